import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, generateKeyPair } from 'jose';
import { openLedgerReader, verifyChain } from '../../src/audit/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { fixedClock } from '../../src/clock.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { tamper } from '../support/entries.js';

let app: TestFlaggate;
let qa: string;
let release: string;
let auditor: string;

const flagFile = () => JSON.parse(readFileSync(`${app.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, { state: string }> };

async function call(method: string, path: string, token: string | undefined, init: { headers?: Record<string, string>; body?: string | Buffer } = {}) {
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(app.proxyUrl + path, { method, headers, body: init.body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function control(path: string, token: string) {
  const res = await fetch(app.controlUrl + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function entries() {
  const { json } = await control('/v1/audit/entries?limit=1000', auditor);
  return json.entries as Array<Record<string, unknown>>;
}

beforeAll(async () => {
  app = await startTestFlaggate({ 'limits.bodyBytes': 4096 });
  [qa, release, auditor] = await Promise.all([app.token('quinn', 'qa'), app.token('riley', 'release_engineer'), app.token('ada', 'auditor')]);
});
afterAll(async () => app?.stop());

describe('the sidecar in front of a flagd file', () => {
  it('denies a change the policy forbids, records it, and leaves the file unchanged', async () => {
    const before = flagFile();
    const res = await call('POST', '/flags/checkout.new-flow/enable', qa);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'POLICY_DENIED', decisionId: expect.any(String) });
    expect(flagFile()).toEqual(before);
    const last = (await entries()).at(-1)!;
    expect(last).toMatchObject({
      entry_type: 'change.decision',
      decision_id: res.json.decisionId,
      action: 'flag.enable',
      flag_key: 'checkout.new-flow',
      environment: 'production',
      actor: { id: 'quinn', roles: ['qa'] },
      decision: { allow: false, error_code: 'POLICY_DENIED' },
    });
  });

  it('denies a production write without a reason', async () => {
    const res = await call('POST', '/flags/checkout.new-flow/enable', release);
    expect(res.status).toBe(403);
    expect(String(res.json.message)).toMatch(/reason/i);
    expect(flagFile().flags['checkout.new-flow']!.state).toBe('DISABLED');
  });

  it('applies an allowed change after recording and replicating its decision, then records the outcome', async () => {
    const res = await call('POST', '/flags/checkout.new-flow/enable', release, {
      headers: { 'x-flaggate-reason': 'launch checkout v2', 'x-flaggate-ticket': 'CHG-1042', 'x-flaggate-link-pr': 'https://git.example/pr/7' },
    });
    expect(res.status).toBe(200);
    expect(flagFile().flags['checkout.new-flow']!.state).toBe('ENABLED');
    const decisionId = res.headers.get('x-flaggate-decision-id');
    const mine = (await entries()).filter((e) => e.decision_id === decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[0]).toMatchObject({
      reason: 'launch checkout v2',
      linked_artifacts: { ticket: 'CHG-1042', pr: 'https://git.example/pr/7', build: null },
      previous_state: { state: 'DISABLED' },
      new_state: { state: 'ENABLED' },
      decision: { allow: true, policy_revision: expect.stringMatching(/^sha256:/), policy_sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
    // The JSONL upstream held the decision before the forward; the outcome follows the reply without holding it.
    const streamed = () => readFileSync(`${app.dataDir}/audit.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string });
    expect(streamed()).toContainEqual(expect.objectContaining({ seq: mine[0]!.seq, hash: mine[0]!.hash }));
    for (let i = 0; i < 100 && streamed().at(-1)!.seq < (mine[1] as { seq: number }).seq; i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(streamed().at(-1)).toMatchObject({ seq: mine[1]!.seq, hash: mine[1]!.hash });
  });

  it('verifies the chain over the control port', async () => {
    const { status, json } = await control('/v1/audit/verify', auditor);
    expect(status).toBe(200);
    expect(json).toMatchObject({ ok: true, chainId: 'local' });
  });

  it('counts decisions by result, action and environment on /metrics', async () => {
    const text = await (await fetch(app.controlUrl + '/metrics')).text();
    expect(text).toMatch(/flaggate_decisions_total\{result="deny",action="flag.enable",environment="production"\} [1-9]/);
    expect(text).toMatch(/flaggate_decisions_total\{result="allow",action="flag.enable",environment="production"\} 1/);
    expect(text).toContain('flaggate_decision_duration_seconds_bucket');
    expect(text).toContain('flaggate_request_duration_seconds_bucket');
  });

  it('answers health and readiness', async () => {
    expect((await fetch(app.controlUrl + '/healthz')).status).toBe(200);
    const ready = await fetch(app.controlUrl + '/readyz');
    expect(ready.status).toBe(200);
  });
});

describe('bad input', () => {
  const json = { 'content-type': 'application/json' };
  const validFlag = { key: 'new.flag', state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' };

  it.each([
    { name: 'no token', token: () => undefined, method: 'POST', path: '/flags/checkout.new-flow/disable', init: {}, status: 401, code: 'IDENTIFY_TOKEN_MISSING' },
    { name: 'malformed JSON', token: () => release, method: 'POST', path: '/flags', init: { headers: json, body: '{"key": "x",' }, status: 400, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a body that is not a flag definition', token: () => release, method: 'PUT', path: '/flags/checkout.new-flow', init: { headers: json, body: '{"state":"ON"}' }, status: 400, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'wrong content type', token: () => release, method: 'POST', path: '/flags', init: { headers: { 'content-type': 'text/plain' }, body: JSON.stringify(validFlag) }, status: 415, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'an oversized body', token: () => release, method: 'POST', path: '/flags', init: { headers: json, body: JSON.stringify({ ...validFlag, pad: 'x'.repeat(5000) }) }, status: 413, code: 'INTERCEPT_BODY_TOO_LARGE' },
    { name: 'an unknown write route', token: () => release, method: 'POST', path: '/admin/reset', init: {}, status: 403, code: 'ADAPT_WRITE_UNRECOGNIZED' },
    { name: 'an unknown read route', token: () => release, method: 'GET', path: '/nope', init: {}, status: 404, code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a path-traversal flag key', token: () => release, method: 'POST', path: '/flags/..%2Fetc/enable', init: {}, status: 404, code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a method that is neither a read nor a write', token: () => release, method: 'OPTIONS', path: '/flags', init: {}, status: 404, code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a gzip-encoded body', token: () => release, method: 'POST', path: '/flags', init: { headers: { ...json, 'content-encoding': 'gzip' }, body: Buffer.from([0x1f, 0x8b, 0, 0]) }, status: 415, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
  ])('rejects $name with $status $code, forwarding nothing', async ({ token, method, path, init, status, code }) => {
    const before = readFileSync(`${app.dataDir}/flags.flagd.json`);
    const res = await call(method, path, token(), init);
    expect(res.status).toBe(status);
    expect(res.json).toMatchObject({ code, message: expect.any(String) });
    expect(readFileSync(`${app.dataDir}/flags.flagd.json`)).toEqual(before);
  });

  it('records a gzip-encoded write it refuses, as every refused write', async () => {
    const res = await call('POST', '/flags', release, { headers: { ...json, 'content-encoding': 'gzip' }, body: Buffer.from([0x1f, 0x8b, 0, 0]) });
    expect(res.status).toBe(415);
    const mine = (await entries()).filter((e) => e.decision_id === res.headers.get('x-flaggate-decision-id'));
    expect(mine).toMatchObject([{ entry_type: 'change.decision', decision: { allow: false, error_code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' } }]);
  });

  it.each(['toString', 'constructor', 'valueOf', 'hasOwnProperty'])('treats a flag named %s as any other absent flag, recording the attempt', async (key) => {
    const before = (await entries()).length;
    const res = await call('POST', `/flags/${key}/enable`, release, { headers: { 'x-flaggate-reason': 'probe', 'x-flaggate-ticket': 'CHG-1' } });
    expect(res.status).toBe(404);
    const mine = (await entries()).filter((e) => e.decision_id === res.headers.get('x-flaggate-decision-id'));
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]).toMatchObject({ flag_key: key, previous_state: null });
    expect((await entries()).length).toBeGreaterThan(before);
    expect((await call('GET', `/flags/${key}`, release)).status).toBe(404);
  });

  it('records a write that no route recognizes', async () => {
    const res = await call('POST', '/admin/reset', release);
    const last = (await entries()).at(-1)!;
    expect(last).toMatchObject({ decision_id: res.json.decisionId, action: 'unrecognized', decision: { allow: false, error_code: 'ADAPT_WRITE_UNRECOGNIZED' } });
  });

  it('rejects a token minted for another audience', async () => {
    const other = await mintDevToken({ dataDir: app.dataDir, sub: 'mallory', roles: ['release_engineer'], clock: fixedClock(Date.now()), audience: 'some-other-service' });
    const res = await call('POST', '/flags/checkout.new-flow/disable', other, { headers: { 'x-flaggate-reason': 'x' } });
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
  });

  it('rejects a token signed by a key it does not trust', async () => {
    const { privateKey } = await generateKeyPair('EdDSA');
    const forged = await new SignJWT({ roles: ['release_engineer'] })
      .setProtectedHeader({ alg: 'EdDSA', kid: 'forged' })
      .setSubject('mallory').setIssuer('flaggate-dev').setAudience('flaggate').setIssuedAt().setExpirationTime('5m')
      .sign(privateKey);
    const res = await call('POST', '/flags/checkout.new-flow/disable', forged, { headers: { 'x-flaggate-reason': 'x' } });
    expect(res.status).toBe(401);
    expect(String(res.json.code)).toMatch(/^IDENTIFY_/);
    // The attempt is on record: by nobody the sidecar can name, aimed at this flag, refused with that code.
    expect((await entries()).find((e) => e.decision_id === res.json.decisionId)).toMatchObject({
      actor: { id: 'unauthenticated', auth_method: 'none', roles: [] },
      action: 'flag.disable',
      flag_key: 'checkout.new-flow',
      decision: { allow: false, error_code: res.json.code },
    });
  });

  it('keeps audit reads for auditors', async () => {
    const res = await fetch(app.controlUrl + '/v1/audit/entries', { headers: { authorization: `Bearer ${release}` } });
    expect(res.status).toBe(403);
    expect(await res.json()).toMatchObject({ code: 'CONTROL_FORBIDDEN' });
  });

  it('is still serving, and the chain still verifies after all of it', async () => {
    expect((await control('/v1/audit/verify', auditor)).json).toMatchObject({ ok: true });
  });
});

describe('tampering', () => {
  it('a row changed through a raw SQLite connection makes verify report exactly that seq', async () => {
    const all = await entries();
    const target = all[Math.floor(all.length / 2)]!;
    // Flip the decision, whichever way it went: the edit an insider would want.
    const flip = `UPDATE audit_entries SET body = CASE WHEN instr(body, '"allow":false') > 0
      THEN replace(body, '"allow":false', '"allow":true') ELSE replace(body, '"allow":true', '"allow":false') END WHERE seq = ?`;
    expect(tamper(`${app.dataDir}/ledger.sqlite`, flip, target.seq)).toBe(1);
    const { status, json } = await control('/v1/audit/verify', auditor);
    expect(status).toBe(409);
    expect(json).toMatchObject({ ok: false, failure: { code: 'AUDIT_CHAIN_BROKEN', seq: target.seq, kind: 'modified' } });
    const reader = openLedgerReader(`${app.dataDir}/ledger.sqlite`);
    try {
      expect((await verifyChain(reader.read)).failure?.seq).toBe(target.seq);
    } finally {
      reader.close();
    }
  });
});
