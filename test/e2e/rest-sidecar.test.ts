/**
 * An in-house flag service (written here, in the test suite) governed by flaggate from a YAML
 * configuration file alone, through the real configuration loader: the mapping names its routes,
 * where the flag and environment are, and how to read a flag's state before a change.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { inHouseConfigYaml, startInHouseService, type InHouseService } from '../support/inhouse-flag-service.js';
import { makeTempDir } from '../support/temp-dir.js';
import { auditEntries } from '../support/unleash-sidecar.js';

const KEY = 'svc-key-0123456789';
const context = { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-44' };

let service: InHouseService;
let app: TestFlaggate;
let tmp: { dir: string; cleanup(): void };
let release: string;
let approver: string;
let qa: string;
let auditor: string;

async function viaFlaggate(method: string, path: string, token: string, body?: unknown) {
  const res = await fetch(app.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

const entriesOf = async (decisionId: string | null) => (await auditEntries(app, auditor)).filter((e) => e.decision_id === decisionId);
const enabled = (name: string, env: string) => service.flags.get(name)?.environments[env]?.enabled;

beforeAll(async () => {
  service = await startInHouseService(KEY);
  tmp = makeTempDir('flaggate-rest-config-');
  const file = join(tmp.dir, 'flaggate.yaml');
  writeFileSync(file, inHouseConfigYaml(service.url, KEY, { reads: true }));
  app = await startTestFlaggate({}, { FLAGGATE_CONFIG: file });
  [release, approver, qa, auditor] = await Promise.all([
    app.token('riley', 'release_engineer'), app.token('sam', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor'),
  ]);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await service?.stop();
  tmp?.cleanup();
}, 60_000);

describe('flaggate in front of an in-house REST flag service, from its configuration file alone', () => {
  it('creates a flag named by the body, recorded with its absence before, sent with the service credential', async () => {
    const res = await viaFlaggate('POST', '/api/flags', release, { name: 'checkout' });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    expect(service.flags.has('checkout')).toBe(true);
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ platform: 'rest', action: 'flag.create', flag_key: 'checkout', environment: 'production', previous_state: { exists: false }, new_state: { name: 'checkout' } });
    expect(service.received.at(-1)).toMatchObject({ method: 'POST', apiKey: KEY, authorization: undefined });
  });

  it('an allowed change in the environment the query names is applied, with the state the pointer keeps', async () => {
    const res = await viaFlaggate('PATCH', '/api/flags/checkout?env=staging', qa, { enabled: true });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(enabled('checkout', 'staging')).toBe(true);
    const mine = await entriesOf(res.decisionId);
    expect(mine[0]).toMatchObject({
      action: 'flag.update', flag_key: 'checkout', environment: 'staging', new_state: { enabled: true },
      previous_state: { exists: true, state: { staging: { enabled: false }, production: { enabled: false } } },
    });
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
  });

  it('a denied change does not reach the service, and is recorded', async () => {
    const before = service.received.length;
    const res = await viaFlaggate('PATCH', '/api/flags/checkout?env=production', qa, { enabled: true });
    expect(res.status).toBe(403);
    expect(enabled('checkout', 'production')).toBe(false);
    expect(await entriesOf(res.decisionId)).toMatchObject([{ actor: { id: 'quinn' }, decision: { allow: false, error_code: 'POLICY_DENIED' } }]);
    expect(service.received.slice(before).every((r) => r.method === 'GET')).toBe(true);
  });

  it('refuses and records a write the mapping does not name, and one missing the environment it reads', async () => {
    const before = service.received.length;
    const admin = await viaFlaggate('POST', '/api/admin/keys', release, { role: 'admin' });
    expect(admin.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED' });
    expect(await entriesOf(admin.decisionId)).toMatchObject([{ decision: { allow: false, error_code: 'ADAPT_WRITE_UNRECOGNIZED' } }]);
    const noEnv = await viaFlaggate('PATCH', '/api/flags/checkout', release, { enabled: false });
    expect(noEnv.json).toMatchObject({ code: 'ADAPT_QUERY_REFUSED' });
    const extra = await viaFlaggate('PATCH', '/api/flags/checkout?env=staging&env=production', release, { enabled: false });
    expect(extra.json).toMatchObject({ code: 'ADAPT_QUERY_REFUSED' });
    expect(service.received.length).toBe(before);
    expect(enabled('checkout', 'staging')).toBe(true);
  });

  it('holds a critical production change, and applies it once a second person approves', async () => {
    await fetch(`${service.url}/api/flags`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'payments.refunds' }) });
    const held = await viaFlaggate('PATCH', '/api/flags/payments.refunds?env=production', release, { enabled: true });
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(enabled('payments.refunds', 'production')).toBe(false);
    const approve = (token: string) => fetch(String(held.json.approveUrl), { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
    expect((await approve(release)).status).toBeGreaterThanOrEqual(400);
    expect(enabled('payments.refunds', 'production')).toBe(false);
    expect(await (await approve(approver)).json()).toMatchObject({ status: 'applied', platformStatus: 200 });
    expect(enabled('payments.refunds', 'production')).toBe(true);
    const mine = (await auditEntries(app, auditor)).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(mine.at(-2)).toMatchObject({ entry_type: 'change.decision', actor: { id: 'riley' }, approval: { approved_by: ['sam'] }, previous_state: { state: { production: { enabled: false } } } });
  });

  it('passes mapped reads through, refuses the rest, and deletes; verify says OK', async () => {
    expect((await viaFlaggate('GET', '/api/flags/checkout', qa)).json).toMatchObject({ name: 'checkout' });
    expect((await viaFlaggate('GET', '/api/admin/keys', qa)).json).toMatchObject({ code: 'ADAPT_ROUTE_UNKNOWN' });
    const del = await viaFlaggate('DELETE', '/api/flags/checkout', release);
    expect(del.status).toBe(204);
    expect(service.flags.has('checkout')).toBe(false);
    expect((await entriesOf(del.decisionId))[0]).toMatchObject({ action: 'flag.delete', previous_state: { exists: true } });
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  });
});
