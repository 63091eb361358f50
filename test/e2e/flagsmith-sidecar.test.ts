/**
 * flaggate in front of the Flagsmith double (built from a real Flagsmith's recordings and OpenAPI
 * document): allowed changes are applied and recorded with the state read before them, denied and
 * hostile ones are not applied, identity overrides (Flagsmith's own bypass of its change requests)
 * are governed like any other change, and a critical flag is recognized by the name Flagsmith gives
 * it although the request names it by id.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_KEY, startFlagsmithDouble, type FlagsmithDouble } from '../support/flagsmith/double.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { auditEntries } from '../support/unleash-sidecar.js';

const SIDECAR_KEY = 'Api-Key sidecar-organisation-key';
const context = { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-12' };

let double: FlagsmithDouble;
let app: TestFlaggate;
let release: string;
let qa: string;
let auditor: string;
const ids: Record<string, number> = {};

async function direct(method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(double.url + path, {
    method,
    headers: { authorization: SIDECAR_KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

async function viaFlaggate(method: string, path: string, token: string, body?: unknown | string, headers: Record<string, string> = {}) {
  const res = await fetch(app.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const entriesOf = async (decisionId: string | null) => (await auditEntries(app, auditor)).filter((e) => e.decision_id === decisionId);

/** The id of `feature`'s feature state in the Development environment. */
async function stateId(feature: string): Promise<number> {
  const list = (await direct('GET', `/api/v1/environments/${DEV_KEY}/featurestates/?feature=${ids[feature]}`)) as { results: Array<{ id: number }> };
  return list.results[0]!.id;
}

beforeAll(async () => {
  double = await startFlagsmithDouble({ mode: 'model', credentials: [SIDECAR_KEY] });
  app = await startTestFlaggate({ 'platform.name': 'flagsmith', 'platform.targetUrl': double.url, 'platform.targetToken': SIDECAR_KEY });
  [release, qa, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor')]);
  for (const name of ['dark_mode', 'payments.checkout']) ids[name] = (await direct('POST', '/api/v1/projects/1/features/', { name, default_enabled: false })).id as number;
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await double?.stop();
}, 60_000);

describe('flaggate in front of Flagsmith', () => {
  it('an allowed change reaches Flagsmith and is recorded with the state read before it', async () => {
    const id = await stateId('dark_mode');
    const res = await viaFlaggate('PATCH', `/api/v1/environments/${DEV_KEY}/featurestates/${id}/`, release, { enabled: true });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(double.featureState(DEV_KEY, 'dark_mode')).toMatchObject({ enabled: true });
    const mine = await entriesOf(res.decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[0]).toMatchObject({
      platform: 'flagsmith', action: 'flag.enable', flag_key: `feature-state:${id}`, environment: DEV_KEY, decision: { allow: true },
      previous_state: { exists: true, name: 'dark_mode', environment: { name: 'Development' }, target: { enabled: false } },
    });
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
  });

  it('a denied change does not reach Flagsmith, and is recorded', async () => {
    const id = await stateId('dark_mode');
    const res = await viaFlaggate('PATCH', `/api/v1/environments/${DEV_KEY}/featurestates/${id}/`, qa, { enabled: false });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'POLICY_DENIED' });
    expect(double.featureState(DEV_KEY, 'dark_mode')).toMatchObject({ enabled: true });
    expect(await entriesOf(res.decisionId)).toMatchObject([{ entry_type: 'change.decision', actor: { id: 'quinn' }, decision: { allow: false } }]);
  });

  it('hostile variants are refused and recorded, and nothing reaches Flagsmith', async () => {
    const id = await stateId('dark_mode');
    const path = `/api/v1/environments/${DEV_KEY}/featurestates/${id}/`;
    const before = double.received.length;
    const variants: Array<[string, string | undefined, Record<string, string>, string]> = [
      // Flagsmith would drop the misspelt field: the entry would show a change that is not made.
      [path, JSON.stringify({ enabled: false, enabeld: true }), {}, 'ADAPT_BODY_MALFORMED'],
      [path, '{"enabled":true,"enabled":false}', {}, 'ADAPT_BODY_MALFORMED'],
      [path, 'enabled=false', { 'content-type': 'application/x-www-form-urlencoded' }, 'ADAPT_MEDIA_TYPE_UNSUPPORTED'],
      [`${path}?format=json&format=api`, JSON.stringify({ enabled: false }), {}, 'ADAPT_QUERY_REFUSED'],
      [`${path}#x`.replace('#', '%23'), JSON.stringify({ enabled: false }), {}, 'ADAPT_ROUTE_UNKNOWN'],
      [`${path}..%2F`, JSON.stringify({ enabled: false }), {}, 'ADAPT_ROUTE_UNKNOWN'],
    ];
    for (const [target, body, headers, code] of variants) {
      const res = await viaFlaggate('PATCH', target, release, body, headers);
      expect(res.json, `${target} ${body}`).toMatchObject({ code });
      expect(await entriesOf(res.decisionId), code).toMatchObject([{ entry_type: 'change.decision', decision: { allow: false, error_code: code } }]);
    }
    expect(double.received.length).toBe(before);
    expect(double.featureState(DEV_KEY, 'dark_mode')).toMatchObject({ enabled: true });
  });

  it("deletes a segment override named by its feature segment, whose own answer does not name the feature: the states it serves do", async () => {
    const created = (await direct('POST', `/api/v1/environments/${DEV_KEY}/features/${ids.dark_mode}/create-segment-override/`, {
      feature_segment: { segment: 1 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'purple' },
    })) as { id: number; feature_segment: { id: number } };
    const segmentId = created.feature_segment.id;
    // As a real Flagsmith 2.265.0 answers it: no `feature`.
    expect(await direct('GET', `/api/v1/features/feature-segments/${segmentId}/`)).not.toHaveProperty('feature');
    const res = await viaFlaggate('DELETE', `/api/v1/features/feature-segments/${segmentId}/`, release);
    expect(res.status, JSON.stringify(res.json)).toBe(204);
    const mine = await entriesOf(res.decisionId);
    expect(mine[0]).toMatchObject({ action: 'segment_override.delete', flag_key: `feature-segment:${segmentId}`, previous_state: { exists: true, name: 'dark_mode', feature: { id: ids.dark_mode } } });
    // What the delete takes with it, and who it served: the state, its priority and its segment's rules.
    expect(mine[0]!.previous_state).toMatchObject({ overrides: [{ id: created.id, enabled: true }], featureSegment: { id: segmentId, priority: 0 }, segment: { id: 1, rules: [{ type: 'ALL' }] } });
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied' } });
    const left = (await direct('GET', `/api/v1/features/featurestates/?environment=1&feature=${ids.dark_mode}`)) as { results: Array<{ id: number }> };
    expect(left.results.map((s) => s.id)).not.toContain(created.id);
  });

  it('refuses and records a write no route recognizes', async () => {
    const res = await viaFlaggate('POST', '/api/v1/organisations/1/master-api-keys/', release, { name: 'mine', is_admin: true });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED' });
    expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { error_code: 'ADAPT_WRITE_UNRECOGNIZED' } }]);
  });

  it('governs an identity override like any other change: applied and recorded with the state before it', async () => {
    const res = await viaFlaggate('POST', `/api/v1/environments/${DEV_KEY}/identities/1/featurestates/`, release, { feature: ids.dark_mode, enabled: false });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    const overrides = (await direct('GET', `/api/v1/environments/${DEV_KEY}/identities/1/featurestates/`)) as { results: Array<{ feature: number; enabled: boolean }> };
    expect(overrides.results).toMatchObject([{ feature: ids.dark_mode, enabled: false }]);
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({
      action: 'identity_override.create', flag_key: `feature:${ids.dark_mode}`, previous_state: { exists: false, name: 'dark_mode' }, decision: { allow: true },
    });
  });

  it('holds an identity override on a critical flag, named by id in the request and by name in Flagsmith, for approval', async () => {
    const held = await viaFlaggate('POST', `/api/v1/environments/${DEV_KEY}/identities/2/featurestates/`, release, { feature: ids['payments.checkout'], enabled: true });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(held.json).toMatchObject({ changeRequestId: expect.any(String) });
    const overrides = (await direct('GET', `/api/v1/environments/${DEV_KEY}/identities/2/featurestates/`)) as { count: number };
    expect(overrides.count).toBe(0);
    const requested = (await auditEntries(app, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested[0]).toMatchObject({ entry_type: 'change.requested', action: 'identity_override.create', previous_state: { name: 'payments.checkout' } });
  });

  it('passes flag reads through, and keeps administration away from flag readers', async () => {
    const read = await viaFlaggate('GET', '/api/v1/projects/1/features/', qa);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ count: 2 });
    const admin = await viaFlaggate('GET', '/api/v1/organisations/1/master-api-keys/', qa);
    expect(admin.json).toMatchObject({ code: 'ADAPT_ROUTE_UNKNOWN' });
  });

  it('holds a change that a version scheduled on Flagsmith will replace, says when, and applies it once approved', async () => {
    ids['promo.banner'] = (await direct('POST', '/api/v1/projects/1/features/', { name: 'promo.banner', default_enabled: false })).id as number;
    double.addVersion(DEV_KEY, 'promo.banner', '2099-06-01T09:00:00.000000Z');
    const held = await viaFlaggate('PATCH', `/api/__future__/environments/${DEV_KEY}/features/${ids['promo.banner']}/`, release, { environment_default: { enabled: true } });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(double.featureState(DEV_KEY, 'promo.banner')).toMatchObject({ enabled: false });
    const requested = (await auditEntries(app, auditor)).find((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested).toMatchObject({ entry_type: 'change.requested', previous_state: { name: 'promo.banner', scheduled: [{ live_from: '2099-06-01T09:00:00.000000Z' }] } });
    expect(JSON.stringify(requested)).toContain('a version scheduled on flagsmith for 2099-06-01T09:00:00.000000Z replaces this change when it goes live');
    const approve = await fetch(`${app.controlUrl}/v1/changes/${String(held.json.changeRequestId)}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${await app.token('sam', 'release_engineer')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'until the scheduled version' }),
    });
    expect(approve.status, await approve.clone().text()).toBe(200);
    expect(double.featureState(DEV_KEY, 'promo.banner')).toMatchObject({ enabled: true });
  });

  it('verify says OK over the whole chain', async () => {
    const res = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await res.json()).toMatchObject({ ok: true });
  });
});
