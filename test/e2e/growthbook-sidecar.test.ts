/**
 * flaggate in front of the GrowthBook double (every request and response validated against
 * GrowthBook's published OpenAPI document): feature creation, per-environment toggles and rules,
 * reverts and deletion are classified, decided, recorded with the state read before them and
 * applied; denied, hostile and unrecognized writes are not; a critical production change is held
 * and applied once a second person approves it.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGrowthBookDouble, type GrowthBookDouble } from '../support/growthbook/double.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { auditEntries } from '../support/unleash-sidecar.js';

const SECRET = 'secret_sidecar0123456789';
const FEATURES = '/api/v1/features';
const context = { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-31' };

let double: GrowthBookDouble;
let app: TestFlaggate;
let release: string;
let approver: string;
let qa: string;
let auditor: string;

async function viaFlaggate(method: string, path: string, token: string, body?: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(app.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const entriesOf = async (decisionId: string | null) => (await auditEntries(app, auditor)).filter((e) => e.decision_id === decisionId);
const envOf = (id: string, env: string) => (double.feature(id)?.environments as Record<string, { enabled: boolean; rules: unknown[] }> | undefined)?.[env];

beforeAll(async () => {
  double = await startGrowthBookDouble({ secretKey: SECRET });
  app = await startTestFlaggate({ 'platform.name': 'growthbook', 'platform.targetUrl': double.url, 'platform.targetToken': SECRET });
  [release, approver, qa, auditor] = await Promise.all([
    app.token('riley', 'release_engineer'), app.token('sam', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor'),
  ]);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await double?.stop();
}, 60_000);

describe('flaggate in front of GrowthBook', () => {
  it('creates a feature, recorded with its absence before and the environments it enables', async () => {
    const res = await viaFlaggate('POST', FEATURES, release, { id: 'checkout', owner: 'riley@example.com', valueType: 'boolean', defaultValue: 'false', environments: { dev: { enabled: true, rules: [] } } });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(envOf('checkout', 'dev')).toMatchObject({ enabled: true });
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ platform: 'growthbook', action: 'flag.create', flag_key: 'checkout', environment: 'dev', previous_state: { exists: false } });
  });

  it('a toggle in production is flag.enable there, recorded with that environment\'s state before, and applied', async () => {
    const res = await viaFlaggate('POST', `${FEATURES}/checkout/toggle`, release, { reason: 'go live', environments: { production: true } });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(envOf('checkout', 'production')).toMatchObject({ enabled: true });
    const mine = await entriesOf(res.decisionId);
    expect(mine[0]).toMatchObject({
      action: 'flag.enable', environment: 'production', new_state: { toggles: { production: true }, reason: 'go live' },
      previous_state: { exists: true, version: 1, environments: { production: { enabled: false, rules: [] } } },
    });
    expect(Object.keys((mine[0]!.previous_state as { environments: object }).environments)).toEqual(['production']);
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
  });

  it('rules replaced in one environment are governed there, and applied', async () => {
    const rules = [{ type: 'rollout', value: 'true', coverage: 0.25, hashAttribute: 'id' }];
    const res = await viaFlaggate('POST', `${FEATURES}/checkout`, release, { environments: { production: { enabled: true, rules } } });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(envOf('checkout', 'production')!.rules).toMatchObject(rules);
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ action: 'flag.update', environment: 'production', previous_state: { environments: { production: { rules: [] } } } });
  });

  it('a denied change does not reach GrowthBook, and is recorded', async () => {
    const res = await viaFlaggate('POST', `${FEATURES}/checkout/toggle`, qa, { environments: { production: false } });
    expect(res.status).toBe(403);
    expect(envOf('checkout', 'production')).toMatchObject({ enabled: true });
    expect(await entriesOf(res.decisionId)).toMatchObject([{ actor: { id: 'quinn' }, decision: { allow: false, error_code: 'POLICY_DENIED' } }]);
  });

  it('a change that writes several environments is judged by the most protected of them', async () => {
    const res = await viaFlaggate('POST', `${FEATURES}/checkout/toggle`, qa, { environments: { dev: false, production: false } });
    expect(res.status).toBe(403);
    expect(envOf('checkout', 'dev')).toMatchObject({ enabled: true });
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ action: 'flag.disable', environment: '*', previous_state: { environments: { dev: { enabled: true }, production: { enabled: true } } } });
  });

  it('hostile variants are refused and recorded, and nothing reaches GrowthBook', async () => {
    const before = double.received.length;
    const toggle = `${FEATURES}/checkout/toggle`;
    const variants: Array<[string, string, Record<string, string>, string]> = [
      // GrowthBook reads any other value as off: flaggate records only what GrowthBook will read one way.
      [toggle, JSON.stringify({ environments: { production: 'off' } }), {}, 'ADAPT_BODY_MALFORMED'],
      [toggle, '{"environments":{"dev":false},"environments":{"production":false}}', {}, 'ADAPT_BODY_MALFORMED'],
      [toggle, JSON.stringify({ environments: { production: false }, force: true }), {}, 'ADAPT_BODY_MALFORMED'],
      // GrowthBook takes form data too: flaggate forwards JSON only.
      [toggle, 'environments[production]=false', { 'content-type': 'application/x-www-form-urlencoded' }, 'ADAPT_MEDIA_TYPE_UNSUPPORTED'],
      [`${toggle}?environments=production`, JSON.stringify({ environments: { production: false } }), {}, 'ADAPT_QUERY_REFUSED'],
      [`${toggle}/`, JSON.stringify({ environments: { production: false } }), {}, 'ADAPT_ROUTE_UNKNOWN'],
      [`${FEATURES}/checkout%2Ftoggle`, JSON.stringify({ environments: { production: false } }), {}, 'ADAPT_ROUTE_UNKNOWN'],
    ];
    for (const [path, body, headers, code] of variants) {
      const res = await viaFlaggate('POST', path, release, body, headers);
      expect(res.json, `${path} ${body}`).toMatchObject({ code });
      expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { allow: false, error_code: code } }]);
    }
    expect(double.received.length).toBe(before);
    expect(envOf('checkout', 'production')).toMatchObject({ enabled: true });
  });

  it('refuses and records a write no route recognizes (drafts, revisions and the v2 routes are not governed)', async () => {
    for (const path of [`${FEATURES}/checkout/revisions/2/publish`, '/api/v2/features/checkout/toggle', '/api/v1/environments']) {
      const res = await viaFlaggate('POST', path, release, { environments: { production: false } });
      expect(res.json, path).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED' });
      expect(await entriesOf(res.decisionId)).toMatchObject([{ decision: { error_code: 'ADAPT_WRITE_UNRECOGNIZED' } }]);
    }
    expect(envOf('checkout', 'production')).toMatchObject({ enabled: true });
  });

  it('holds a critical production change, and applies it once a second person approves', async () => {
    // Created on GrowthBook directly: creating a critical feature through flaggate is itself held.
    await fetch(double.url + FEATURES, {
      method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'payments.refunds', owner: 'ops@example.com', valueType: 'boolean', defaultValue: 'true' }),
    });
    const held = await viaFlaggate('POST', `${FEATURES}/payments.refunds/toggle`, release, { environments: { production: true } });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(envOf('payments.refunds', 'production')).toMatchObject({ enabled: false });

    const self = await fetch(String(held.json.approveUrl), { method: 'POST', headers: { authorization: `Bearer ${release}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'mine' }) });
    expect(self.status).toBeGreaterThanOrEqual(400);
    expect(envOf('payments.refunds', 'production')).toMatchObject({ enabled: false });

    const approved = await fetch(String(held.json.approveUrl), { method: 'POST', headers: { authorization: `Bearer ${approver}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
    expect(await approved.json()).toMatchObject({ status: 'applied', platformStatus: 200 });
    expect(envOf('payments.refunds', 'production')).toMatchObject({ enabled: true });
    const mine = (await auditEntries(app, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.requested', 'change.approved', 'change.approved', 'change.decision', 'change.outcome']);
    expect(mine[1]).toMatchObject({ actor: { id: 'riley' }, decision: { allow: false, error_code: 'APPROVAL_SELF' } });
    expect(mine[3]).toMatchObject({ actor: { id: 'riley' }, flag_key: 'payments.refunds', approval: { approved_by: ['sam'] }, previous_state: { environments: { production: { enabled: false } } } });
  });

  // A 400 GrowthBook gives before it writes (an unknown environment): the feature reads as before, so the change failed.
  it('records a 400 that left the feature as it was as a failure', async () => {
    const res = await viaFlaggate('POST', `${FEATURES}/checkout/toggle`, release, { environments: { 'qa-eu': true } });
    expect(res.status).toBe(400);
    const mine = await entriesOf(res.decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[1]).toMatchObject({ outcome: { status: 'failed', platform_status: 400 } });
  });

  it('passes feature reads through, and keeps administration away from flag readers', async () => {
    const read = await viaFlaggate('GET', `${FEATURES}?limit=10`, qa);
    expect(read.status).toBe(200);
    expect(read.json).toMatchObject({ total: 2 });
    const admin = await viaFlaggate('GET', '/api/v1/members', qa);
    expect(admin.json).toMatchObject({ code: 'ADAPT_ROUTE_UNKNOWN' });
  });

  it('reverts to an earlier revision (every environment) and deletes; verify says OK, and every exchange matched the document', async () => {
    const revert = await viaFlaggate('POST', `${FEATURES}/checkout/revert`, release, { revision: 1, comment: 'roll back' });
    expect(revert.status, JSON.stringify(revert.json)).toBe(200);
    expect(envOf('checkout', 'production')).toMatchObject({ enabled: false, rules: [] });
    expect((await entriesOf(revert.decisionId))[0]).toMatchObject({ action: 'flag.update', environment: '*', previous_state: { environments: { dev: { enabled: true }, production: { enabled: true } } } });
    const del = await viaFlaggate('DELETE', `${FEATURES}/checkout`, release);
    expect(del.status).toBe(200);
    expect(double.feature('checkout')).toBeUndefined();
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
    expect(double.received.filter((r) => !r.valid)).toEqual([]);
    expect(double.invalidResponses).toEqual([]);
  });
});

/**
 * What GrowthBook does beyond the environments a body names: a new feature is on wherever the
 * organization's `defaultState` says, and rules written for an environment are written for the
 * environments that inherit from it. Each such environment is part of the change the policy judges.
 */
describe('environments a GrowthBook write reaches beyond its body', () => {
  let org: GrowthBookDouble;
  let sidecar: TestFlaggate;
  let admin: string;
  const send = async (token: string, path: string, body: unknown) => {
    const res = await fetch(sidecar.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...context, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id') };
  };
  const decision = (id: string | null) => (sidecar.ledger.entriesAfter(0, 1000) as unknown as Array<Record<string, unknown>>).find((e) => e.decision_id === id && e.entry_type === 'change.decision');

  beforeAll(async () => {
    org = await startGrowthBookDouble({
      secretKey: SECRET,
      environments: [{ id: 'dev', defaultState: true }, { id: 'staging', defaultState: false }, { id: 'production', defaultState: true }, { id: 'live-eu', defaultState: false, parent: 'staging' }],
    });
    sidecar = await startTestFlaggate({ 'platform.name': 'growthbook', 'platform.targetUrl': org.url, 'platform.targetToken': SECRET });
    admin = await sidecar.token('alice', 'flag_admin');
  }, 60_000);
  afterAll(async () => {
    await sidecar?.stop();
    await org?.stop();
  });

  it("a new feature is on where defaultState says: creating it reaches production though the body names only dev", async () => {
    const res = await send(admin, FEATURES, { id: 'search.v3', owner: 'alice@example.com', valueType: 'boolean', defaultValue: 'true', environments: { dev: { enabled: true, rules: [] } } });
    expect(res.status).toBe(403);
    expect(org.feature('search.v3')).toBeUndefined();
    expect(decision(res.decisionId)).toMatchObject({ action: 'flag.create', environment: '*', decision: { allow: false } });
    // (In the organization of the tests above, production is off for new features: the same create is allowed there.)
  });

  it('rules written for an environment reach the environments that inherit from it', async () => {
    await fetch(org.url + FEATURES, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'search.ranker', owner: 'o', valueType: 'boolean', defaultValue: 'false' }) });
    const rules = [{ type: 'force', value: 'true', condition: '{"country":"US"}' }];
    const res = await send(admin, `${FEATURES}/search.ranker`, { environments: { staging: { enabled: true, rules } } });
    expect(res.status).toBe(403);
    expect(decision(res.decisionId)).toMatchObject({ environment: '*', previous_state: { environmentTree: { 'live-eu': { parent: 'staging' } } } });
    expect((org.feature('search.ranker')!.environments as Record<string, { rules: unknown[] }>).staging!.rules).toEqual([]);
  });
});

/**
 * GrowthBook answers an error thrown after a write (a revision published, then a later step fails)
 * with 400, as it answers a bad request. Between flaggate and the double, a proxy answers 400 to
 * toggles the double has applied: the feature no longer reads as before, so the outcome is unknown.
 */
describe('a GrowthBook error after its write', () => {
  let org: GrowthBookDouble;
  let faulty: Server;
  let sidecar: TestFlaggate;

  beforeAll(async () => {
    org = await startGrowthBookDouble({ secretKey: SECRET });
    faulty = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => ['authorization', 'content-type'].includes(k))) as Record<string, string>;
        // A proxy's 504 while GrowthBook still works on the request: nothing has landed yet when flaggate hears it.
        if (req.url!.includes('/late/')) return void (res.writeHead(504, { 'content-type': 'application/json' }), res.end('{"message":"Gateway Timeout"}'));
        fetch(org.url + req.url, { method: req.method, headers, ...(chunks.length ? { body: Buffer.concat(chunks) } : {}) }).then(async (upstream) => {
          const failAfter = req.method === 'POST' && req.url!.endsWith('/toggle') && upstream.ok;
          res.writeHead(failAfter ? 400 : upstream.status, { 'content-type': 'application/json' });
          res.end(failAfter ? JSON.stringify({ message: 'Failed to record the audit event' }) : Buffer.from(await upstream.arrayBuffer()));
        }, () => res.destroy());
      });
    });
    await new Promise<void>((resolve) => faulty.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(faulty.address() as AddressInfo).port}`;
    for (const id of ['banner', 'late']) {
      await fetch(org.url + FEATURES, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ id, owner: 'o', valueType: 'boolean', defaultValue: 'true' }) });
    }
    sidecar = await startTestFlaggate({ 'platform.name': 'growthbook', 'platform.targetUrl': url, 'platform.targetToken': SECRET });
  }, 60_000);
  afterAll(async () => {
    await sidecar?.stop();
    await new Promise((resolve) => faulty?.close(resolve));
    await org?.stop();
  });

  it('is recorded as an unknown outcome, not a failure', async () => {
    const token = await sidecar.token('riley', 'release_engineer');
    const res = await fetch(`${sidecar.proxyUrl}${FEATURES}/banner/toggle`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...context, 'content-type': 'application/json' }, body: JSON.stringify({ environments: { production: true } }) });
    expect(res.status).toBe(400);
    expect((org.feature('banner')!.environments as Record<string, { enabled: boolean }>).production!.enabled).toBe(true);
    const decisionId = res.headers.get('x-flaggate-decision-id');
    const outcome = (sidecar.ledger.entriesAfter(0, 1000) as unknown as Array<Record<string, unknown>>).find((e) => e.decision_id === decisionId && e.entry_type === 'change.outcome');
    expect(outcome).toMatchObject({ outcome: { status: 'unknown', platform_status: 400 } });
  });

  it('a 5xx is unknown without a read that could come before the write', async () => {
    const token = await sidecar.token('riley', 'release_engineer');
    const res = await fetch(`${sidecar.proxyUrl}${FEATURES}/late/toggle`, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...context, 'content-type': 'application/json' }, body: JSON.stringify({ environments: { production: true } }) });
    expect(res.status).toBe(504);
    const decisionId = res.headers.get('x-flaggate-decision-id');
    const outcome = (sidecar.ledger.entriesAfter(0, 1000) as unknown as Array<Record<string, unknown>>).find((e) => e.decision_id === decisionId && e.entry_type === 'change.outcome');
    expect(outcome).toMatchObject({ outcome: { status: 'unknown', platform_status: 504 } });
  });
});

/**
 * GrowthBook's prerequisites (its description: a feature's "Each feature must evaluate to `true`",
 * a rule's `{id, condition}`): whatever changes what a feature serves changes what its dependents
 * serve, and the policy judges them too.
 */
describe('a GrowthBook change reaching the features that depend on it', () => {
  let org: GrowthBookDouble;
  let sidecar: TestFlaggate;
  let engineer: string;
  let auditor: string;
  const through = async (method: string, path: string, token: string, body?: unknown) => {
    const res = await fetch(sidecar.proxyUrl + path, { method, headers: { authorization: `Bearer ${token}`, ...context, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  beforeAll(async () => {
    org = await startGrowthBookDouble({ secretKey: SECRET });
    sidecar = await startTestFlaggate({ 'platform.name': 'growthbook', 'platform.targetUrl': org.url, 'platform.targetToken': SECRET });
    [engineer, auditor] = await Promise.all([sidecar.token('riley', 'release_engineer'), sidecar.token('ada', 'auditor')]);
  }, 60_000);
  afterAll(async () => {
    await sidecar?.stop();
    await org?.stop();
  });

  it('a change to a prerequisite reaches the features that depend on it: a critical dependent holds it', async () => {
    const create = (body: Record<string, unknown>) => fetch(org.url + FEATURES, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'ops@example.com', valueType: 'boolean', defaultValue: 'true', ...body }) });
    await create({ id: 'ui.banner', environments: { production: { enabled: true, rules: [] } } });
    // "Each feature must evaluate to true" (the description's prerequisites): payments.checkout is
    // served only where ui.banner is on; search.v2's production rule only where it meets the condition.
    await create({ id: 'payments.checkout', prerequisites: ['ui.banner'], environments: { production: { enabled: true, rules: [] } } });
    await create({ id: 'search.v2', environments: { production: { enabled: true, rules: [{ type: 'force', value: 'false', prerequisites: [{ id: 'ui.banner', condition: '{"value": true}' }] }] } } });

    const held = await through('POST', `${FEATURES}/ui.banner/toggle`, engineer, { environments: { production: false } });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect((org.feature('ui.banner')!.environments as Record<string, { enabled: boolean }>).production).toMatchObject({ enabled: true });
    const [requested] = (await auditEntries(sidecar, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested).toMatchObject({
      flag_key: 'ui.banner',
      previous_state: { dependents: [{ id: 'payments.checkout', environments: ['*'] }, { id: 'search.v2', environments: ['production'] }] },
    });
    // In dev, where neither depends on it by a rule and the feature-level dependent is not critical there, it passes.
    const dev = await through('POST', `${FEATURES}/ui.banner/toggle`, engineer, { environments: { dev: true } });
    expect(dev.status, JSON.stringify(dev.json)).toBe(200);
    expect((await auditEntries(sidecar, auditor)).find((e) => e.decision_id === dev.decisionId)).toMatchObject({ decision: { allow: true } });
  });

  it('a held change to a feature served through a prerequisite is stale at approval once the prerequisite changed', async () => {
    // payments.checkout (above) is served only where ui.banner evaluates to true.
    const held = await through('POST', `${FEATURES}/payments.checkout/toggle`, engineer, { environments: { production: false } });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    const [requested] = (await auditEntries(sidecar, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested).toMatchObject({ previous_state: { prerequisiteFeatures: { 'ui.banner': { defaultValue: 'true', environments: { production: { enabled: true } } } } } });
    const off = await fetch(`${org.url}${FEATURES}/ui.banner/toggle`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ environments: { production: false } }) });
    expect(off.status).toBe(200);
    const approve = await fetch(`${sidecar.controlUrl}/v1/changes/${String(held.json.changeRequestId)}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${await sidecar.token('sam', 'release_engineer')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }),
    });
    expect(approve.status).toBe(409);
    expect(await approve.json()).toMatchObject({ code: 'CHANGE_STALE' });
    expect((org.feature('payments.checkout')!.environments as Record<string, { enabled: boolean }>).production).toMatchObject({ enabled: true });
  });

  it('a held change to a feature whose rule serves a saved group is stale at approval once the group changed', async () => {
    org.putSavedGroup('grp_testers', 'id', ['tester-1']);
    await fetch(org.url + FEATURES, {
      method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'payments.preview', owner: 'ops@example.com', valueType: 'boolean', defaultValue: 'false', environments: { production: { enabled: false, rules: [{ type: 'force', value: 'true', savedGroups: [{ match: 'any', ids: ['grp_testers'] }] }] } } }),
    });
    const held = await through('POST', `${FEATURES}/payments.preview/toggle`, engineer, { environments: { production: true } });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    const [requested] = (await auditEntries(sidecar, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(requested).toMatchObject({ previous_state: { savedGroups: { grp_testers: { values: ['tester-1'] } } } });
    // The group now holds everyone's id: switching the feature on would serve them all.
    org.putSavedGroup('grp_testers', 'id', ['tester-1', 'everyone']);
    const approve = await fetch(`${sidecar.controlUrl}/v1/changes/${String(held.json.changeRequestId)}/approve`, {
      method: 'POST', headers: { authorization: `Bearer ${await sidecar.token('sam', 'release_engineer')}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }),
    });
    expect(approve.status).toBe(409);
    expect((org.feature('payments.preview')!.environments as Record<string, { enabled: boolean }>).production).toMatchObject({ enabled: false });
  });
});
