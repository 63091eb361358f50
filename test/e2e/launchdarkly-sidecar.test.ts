/**
 * flaggate in front of the LaunchDarkly double (validated against LaunchDarkly's published API
 * description): JSON Patch, JSON merge patch and semantic patch updates are normalized, decided,
 * recorded with the per-environment state read before them and applied; denied, hostile and
 * unrecognized writes are not; a critical flag is held for approval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLaunchDarklyDouble, type LaunchDarklyDouble } from '../support/launchdarkly/double.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { auditEntries } from '../support/unleash-sidecar.js';

const TOKEN = 'api-sidecar-0123456789';
const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';
const FLAGS = '/api/v2/flags/default';
const context = { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-12' };

let double: LaunchDarklyDouble;
let app: TestFlaggate;
let release: string;
let qa: string;
let auditor: string;

async function viaFlaggate(method: string, path: string, token: string, body?: unknown, contentType = 'application/json') {
  const res = await fetch(app.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': contentType }) },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const entriesOf = async (decisionId: string | null) => (await auditEntries(app, auditor)).filter((e) => e.decision_id === decisionId);
const on = (key: string, env: string) => (double.flag('default', key)?.environments as Record<string, { on: boolean }> | undefined)?.[env]?.on;

beforeAll(async () => {
  double = await startLaunchDarklyDouble({ token: TOKEN });
  app = await startTestFlaggate({ 'platform.name': 'launchdarkly', 'platform.targetUrl': double.url, 'platform.targetToken': TOKEN });
  [release, qa, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor')]);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await double?.stop();
}, 60_000);

describe('flaggate in front of LaunchDarkly', () => {
  it('creates a flag, recorded with its absence before', async () => {
    const res = await viaFlaggate('POST', FLAGS, release, { key: 'checkout', name: 'Checkout', variations: [{ value: true }, { value: false }] });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    expect(double.flag('default', 'checkout')).toMatchObject({ key: 'checkout' });
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ platform: 'launchdarkly', action: 'flag.create', flag_key: 'checkout', environment: '*', previous_state: { exists: false } });
  });

  it('a semantic patch turning the flag on is flag.enable in its environment, with the comment kept and the previous state of that environment', async () => {
    const res = await viaFlaggate('PATCH', `${FLAGS}/checkout`, release, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }], comment: 'go live' }, SEMANTIC);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(on('checkout', 'production')).toBe(true);
    const mine = await entriesOf(res.decisionId);
    expect(mine[0]).toMatchObject({
      action: 'flag.enable', environment: 'production', new_state: { comment: 'go live' },
      previous_state: { exists: true, environments: { production: { on: false } } },
    });
    expect(Object.keys((mine[0]!.previous_state as { environments: object }).environments)).toEqual(['production']);
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
  });

  it('a JSON Patch and a JSON merge patch are recorded as what they change, and applied', async () => {
    const patch = await viaFlaggate('PATCH', `${FLAGS}/checkout`, release, { patch: [{ op: 'replace', path: '/environments/test/on', value: true }], comment: 'qa run' });
    expect(patch.status, JSON.stringify(patch.json)).toBe(200);
    expect(on('checkout', 'test')).toBe(true);
    expect((await entriesOf(patch.decisionId))[0]).toMatchObject({ action: 'flag.enable', environment: 'test' });
    const merge = await viaFlaggate('PATCH', `${FLAGS}/checkout`, release, { description: 'new checkout' }, 'application/merge-patch+json');
    expect(merge.status, JSON.stringify(merge.json)).toBe(200);
    expect(double.flag('default', 'checkout')).toMatchObject({ description: 'new checkout' });
    expect((await entriesOf(merge.decisionId))[0]).toMatchObject({ action: 'flag.update', environment: '*', new_state: { merge: { description: 'new checkout' } } });
  });

  it('a rule added by semantic patch is governed in its environment', async () => {
    const variation = (double.flag('default', 'checkout')!.variations as Array<{ _id: string }>)[0]!._id;
    const res = await viaFlaggate('PATCH', `${FLAGS}/checkout`, release, {
      environmentKey: 'test',
      instructions: [{ kind: 'addRule', clauses: [{ contextKind: 'user', attribute: 'country', op: 'in', values: ['NZ'], negate: false }], variationId: variation }],
    }, SEMANTIC);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect((double.flag('default', 'checkout')!.environments as Record<string, { rules: unknown[] }>).test!.rules).toHaveLength(1);
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ action: 'flag.update', environment: 'test', previous_state: { environments: { test: { rules: [] } } } });
  });

  it('a denied change does not reach LaunchDarkly, and is recorded', async () => {
    const res = await viaFlaggate('PATCH', `${FLAGS}/checkout`, qa, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }, SEMANTIC);
    expect(res.status).toBe(403);
    expect(on('checkout', 'production')).toBe(true);
    expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { allow: false, error_code: 'POLICY_DENIED' } }]);
  });

  it('hostile variants are refused and recorded, and nothing reaches LaunchDarkly', async () => {
    const before = double.received.length;
    const off = { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] };
    const variants: Array<[string, unknown, string, string]> = [
      // The semantic body sent as plain JSON would be a different request to LaunchDarkly.
      [`${FLAGS}/checkout`, off, 'application/json', 'ADAPT_BODY_MALFORMED'],
      [`${FLAGS}/checkout`, off, 'application/json; domain-model=launchdarkly.semanticpatch; domain-model=x', 'ADAPT_MEDIA_TYPE_UNSUPPORTED'],
      [`${FLAGS}/checkout`, '{"environmentKey":"test","environmentKey":"production","instructions":[{"kind":"turnFlagOff"}]}', SEMANTIC, 'ADAPT_BODY_MALFORMED'],
      // Instructions about the flag itself apply everywhere: they cannot ride on a test environment key.
      [`${FLAGS}/checkout`, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOff' }, { kind: 'archiveFlag' }] }, SEMANTIC, 'ADAPT_BODY_MALFORMED'],
      [`${FLAGS}/checkout?dryRun=true`, off, SEMANTIC, 'ADAPT_QUERY_REFUSED'],
      [`${FLAGS}/checkout/`, off, SEMANTIC, 'ADAPT_ROUTE_UNKNOWN'],
    ];
    for (const [path, body, type, code] of variants) {
      const res = await viaFlaggate('PATCH', path, release, body, type);
      expect(res.json, `${path} ${type}`).toMatchObject({ code });
      expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { allow: false, error_code: code } }]);
    }
    expect(double.received.length).toBe(before);
    expect(on('checkout', 'production')).toBe(true);
  });

  it('refuses and records a write no route recognizes', async () => {
    const res = await viaFlaggate('POST', '/api/v2/tokens', release, { name: 'mine', role: 'admin' });
    expect(res.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED' });
    expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { error_code: 'ADAPT_WRITE_UNRECOGNIZED' } }]);
  });

  it('holds a change to a critical flag in production for approval', async () => {
    // Created on LaunchDarkly directly: creating a critical flag through flaggate is itself held.
    await fetch(double.url + FLAGS, { method: 'POST', headers: { authorization: TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ key: 'payments.refunds', name: 'Refunds' }) });
    const held = await viaFlaggate('PATCH', `${FLAGS}/payments.refunds`, release, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC);
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(on('payments.refunds', 'production')).toBe(false);
  });

  it("holds a change that asks LaunchDarkly to ignore its pending scheduled changes and approval requests (ignoreConflicts)", async () => {
    const before = on('checkout', 'test');
    const flip = { environmentKey: 'test', instructions: [{ kind: before ? 'turnFlagOff' : 'turnFlagOn' }] };
    const held = await viaFlaggate('PATCH', `${FLAGS}/checkout?ignoreConflicts=true`, release, flip, SEMANTIC);
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(on('checkout', 'test')).toBe(before);
    const plain = await viaFlaggate('PATCH', `${FLAGS}/checkout?ignoreConflicts=false`, release, flip, SEMANTIC);
    expect(plain.status, JSON.stringify(plain.json)).toBe(200);
    expect(on('checkout', 'test')).toBe(!before);
  });

  it('a change to a prerequisite reaches the flags that depend on it in that environment: a critical dependent holds it', async () => {
    const direct = (method: string, path: string, body: unknown, type = 'application/json') =>
      fetch(double.url + path, { method, headers: { authorization: TOKEN, 'content-type': type }, body: JSON.stringify(body) });
    await direct('POST', FLAGS, { key: 'ui-banner', name: 'Banner' });
    await direct('POST', FLAGS, { key: 'payments.checkout', name: 'Checkout' });
    // A dependent flag serves its off variation wherever its prerequisite is off or serves another
    // variation (the description's dependent flags, "a flag that uses another flag as a prerequisite").
    const added = await direct('PATCH', `${FLAGS}/payments.checkout`, { patch: [{ op: 'add', path: '/environments/production/prerequisites/-', value: { key: 'ui-banner', variation: 0 } }] });
    expect(added.status).toBe(200);
    expect((double.flag('default', 'payments.checkout')!.environments as Record<string, { prerequisites: unknown[] }>).production!.prerequisites).toHaveLength(1);

    const held = await viaFlaggate('PATCH', `${FLAGS}/ui-banner`, release, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }, SEMANTIC);
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    const [requested] = (await auditEntries(app, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested).toMatchObject({ flag_key: 'ui-banner', previous_state: { dependents: [{ key: 'payments.checkout', environments: ['production'] }] } });
    // In test, where nothing depends on it, the same change passes.
    const test = await viaFlaggate('PATCH', `${FLAGS}/ui-banner`, release, { environmentKey: 'test', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC);
    expect(test.status, JSON.stringify(test.json)).toBe(200);
    expect((await entriesOf(test.decisionId))[0]).not.toHaveProperty('previous_state.dependents');
  });

  it('a held change is stale at approval when a prerequisite or a segment its flag serves through changed meanwhile', async () => {
    const direct = (body: unknown, flag: string) =>
      fetch(`${double.url}${FLAGS}/${flag}`, { method: 'PATCH', headers: { authorization: TOKEN, 'content-type': SEMANTIC }, body: JSON.stringify(body) });
    const approve = async (id: unknown) =>
      fetch(`${app.controlUrl}/v1/changes/${String(id)}/approve`, { method: 'POST', headers: { authorization: `Bearer ${await app.token('sam', 'release_engineer')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
    const requestedFor = async (id: unknown) => (await auditEntries(app, auditor)).find((e) => e.change_request_id === id && e.entry_type === 'change.requested')!;

    // payments.checkout serves only while ui-banner (its prerequisite in production, above) is on.
    const held = await viaFlaggate('PATCH', `${FLAGS}/payments.checkout`, release, { environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, SEMANTIC);
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect((await requestedFor(held.json.changeRequestId)).previous_state).toMatchObject({ prerequisiteFlags: { production: { 'ui-banner': { on: false } } } });
    expect((await direct({ environmentKey: 'production', instructions: [{ kind: 'turnFlagOn' }] }, 'ui-banner')).status).toBe(200);
    const stale = await approve(held.json.changeRequestId);
    expect(stale.status).toBe(409);
    expect(await stale.json()).toMatchObject({ code: 'CHANGE_STALE' });
    expect(on('payments.checkout', 'production')).toBe(false);

    // A rule serving a segment: who the segment holds is what the rule serves.
    double.putSegment('default', 'production', 'vip', { name: 'VIP', included: ['user-1'] });
    const rule = { environmentKey: 'production', instructions: [{ kind: 'addRule', clauses: [{ attribute: 'segmentMatch', op: 'segmentMatch', values: ['vip'], negate: false }], variationId: 'x' }] };
    const heldRule = await viaFlaggate('PATCH', `${FLAGS}/payments.checkout`, release, rule, SEMANTIC);
    expect(heldRule.status, JSON.stringify(heldRule.json)).toBe(202);
    expect((await requestedFor(heldRule.json.changeRequestId)).previous_state).toMatchObject({ segments: { production: { vip: { name: 'VIP', version: 1, included: 1 } } } });
    double.putSegment('default', 'production', 'vip', { name: 'VIP', included: ['user-1', 'user-2'] });
    expect((await approve(heldRule.json.changeRequestId)).status).toBe(409);
  });

  it('deletes a flag, and verify says OK over the whole chain', async () => {
    const res = await viaFlaggate('DELETE', `${FLAGS}/checkout`, release);
    expect(res.status).toBe(204);
    expect(double.flag('default', 'checkout')).toBeUndefined();
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  });
});
