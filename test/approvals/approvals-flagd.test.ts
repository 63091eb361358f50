import { createHash, randomUUID } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { hmacWithPublicKey, jwksOf, signWith, testKey, unsecuredToken, withPayload, type TestKey } from '../fixtures/jwt/forge.js';
import { ensureOpa, repoRoot } from '../policy/opa-bundle.js';
import { makeTempDir } from '../support/temp-dir.js';

// Monday 2030-01-07 10:00 UTC: inside the default business hours, in whole seconds for JWT dates.
const NOW_MS = Date.UTC(2030, 0, 7, 10);
const NOW = NOW_MS / 1000;
const GATE = 'https://gate.test';
const CRITICAL = '/flags/payments.instant-payouts/enable';
const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');
const context = { 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9' };

interface Sidecar {
  app: Flaggate;
  clock: ReturnType<typeof fixedClock>;
  dataDir: string;
  token(sub: string, ...roles: string[]): Promise<string>;
  /** A client-credentials token: a service account, no person behind it. */
  serviceToken(sub: string, ...roles: string[]): Promise<string>;
  stop(): Promise<void>;
}

const temps: Array<{ cleanup(): void }> = [];
let gateKey: TestKey;
let strangerKey: TestKey;
let twoApproverBundle: string;
let botApproverBundle: string;

type PolicyConfig = { critical_approval: { required_approvals: number; service_account_approvers: string[] } };

/** The real policies with their data edited, compiled to a bundle of their own. */
function bundleWith(name: string, edit: (config: PolicyConfig) => void): string {
  const tmp = makeTempDir(`flaggate-${name}-`);
  temps.push(tmp);
  cpSync(join(repoRoot, 'policies'), join(tmp.dir, 'policies'), { recursive: true });
  const dataPath = join(tmp.dir, 'policies', 'data.json');
  const data = JSON.parse(readFileSync(dataPath, 'utf8')) as { flaggate: { config: PolicyConfig } };
  edit(data.flaggate.config);
  writeFileSync(dataPath, JSON.stringify(data));
  const bundle = join(tmp.dir, `${name}.tar.gz`);
  execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-policies.mjs'), '--policies', join(tmp.dir, 'policies'), '--bundle', bundle], { stdio: 'ignore' });
  return bundle;
}

async function start(overrides: Record<string, unknown> = {}): Promise<Sidecar> {
  const tmp = makeTempDir('flaggate-approvals-');
  temps.push(tmp);
  writeFileSync(join(tmp.dir, 'gate.jwks.json'), JSON.stringify(jwksOf(gateKey)));
  const clock = fixedClock(NOW_MS);
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: tmp.dir,
      proxyPort: 0,
      controlPort: 0,
      'approvals.issuers': [{ issuer: GATE, jwksFile: join(tmp.dir, 'gate.jwks.json') }],
      'approvals.expirySeconds': 3600,
      ...overrides,
    },
  });
  const app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
  return {
    app,
    clock,
    dataDir: tmp.dir,
    token: (sub, ...roles) => mintDevToken({ dataDir: tmp.dir, sub, roles, clock, ttlSeconds: 7 * 24 * 3600 }),
    serviceToken: (sub, ...roles) => mintDevToken({ dataDir: tmp.dir, sub, roles, clock, ttlSeconds: 7 * 24 * 3600, claims: { gty: 'client-credentials' } }),
    stop: () => app.close(),
  };
}

async function propose(s: Sidecar, token: string, headers: Record<string, string> = {}, path = CRITICAL) {
  const res = await fetch(s.app.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...context, ...headers } });
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (await res.json()) as Record<string, unknown> };
}

async function review(s: Sidecar, id: string, verb: 'approve' | 'reject', token: string, reason?: string) {
  const res = await fetch(`${s.app.controlUrl}/v1/changes/${id}/${verb}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(reason === undefined ? {} : { reason }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function entries(s: Sidecar) {
  return s.app.ledger.entriesAfter(0, 10_000) as unknown as Array<Record<string, unknown> & { decision: Record<string, unknown> }>;
}

function flagState(s: Sidecar): string {
  const file = JSON.parse(readFileSync(join(s.dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> };
  return file.flags['payments.instant-payouts']!.state;
}

// The change stores are local in these tests, so approval tokens name the sidecar's chain.
const AUD = 'flaggate-approval:local';

/** An approval token from the gate for rita's critical change, unless the claims say otherwise. */
function gateToken(claims: Record<string, unknown> = {}, key = gateKey, iss = GATE, aud = AUD, now = NOW) {
  return signWith(key, {
    iss,
    aud,
    sub: 'sam',
    now,
    claims: { jti: randomUUID(), change_sha256: EMPTY_SHA256, htm: 'POST', htu: CRITICAL, requester: 'rita', roles: ['release_engineer'], ...claims },
  });
}

beforeAll(async () => {
  [gateKey, strangerKey] = await Promise.all([testKey('ES256', 'gate-1'), testKey('ES256', 'gate-1')]);
  ensureOpa();
  // The real policies with two approvers required, for the "counted twice" case.
  twoApproverBundle = bundleWith('two-approvers', (c) => (c.critical_approval.required_approvals = 2));
  // ... and with one service account listed as an approver.
  botApproverBundle = bundleWith('bot-approver', (c) => (c.critical_approval.service_account_approvers = ['release-bot']));
}, 120_000);

afterAll(() => {
  for (const t of temps) t.cleanup();
});

describe('holding a change that needs approvals', () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.stop());

  it('answers 202 with the change-request id, forwards nothing and records change.requested', async () => {
    const res = await propose(s, await s.token('rita', 'release_engineer'));
    expect(res.status).toBe(202);
    expect(res.json).toMatchObject({ status: 'pending', requiredApprovals: 1, approverRoles: ['release_engineer'] });
    expect(res.json.approveUrl).toBe(`${s.app.controlUrl}/v1/changes/${res.json.changeRequestId}/approve`);
    expect(flagState(s)).toBe('DISABLED');
    const requested = entries(s).filter((e) => e.change_request_id === res.json.changeRequestId);
    expect(requested).toMatchObject([{ entry_type: 'change.requested', decision_id: res.decisionId, actor: { id: 'rita' }, request: { body_sha256: EMPTY_SHA256 } }]);
  });

  it('answers a change id that is not valid percent-encoding with 400, whatever the method', async () => {
    const rita = await s.token('rita', 'release_engineer');
    for (const [method, path] of [['GET', '/v1/changes/%'], ['PROPFIND', '/v1/changes/%'], ['POST', '/v1/changes/%E0%A4%A/approve']] as const) {
      const res = await fetch(`${s.app.controlUrl}${path}`, { method, headers: { authorization: `Bearer ${rita}` } });
      expect({ method, path, status: res.status, body: await res.json() }).toMatchObject({ status: 400, body: { code: 'CONTROL_BAD_REQUEST' } });
    }
  });

  it('lists the pending request and shows it with a before/after diff of the flag fields it sets', async () => {
    const rita = await s.token('rita', 'release_engineer');
    const { json } = await propose(s, rita, { cookie: 'session=s3cret', 'x-api-key': 'k3y', 'x-forwarded-for': '203.0.113.9', 'x-flaggate-link-pr': 'https://git.test/pr/1' });
    const list = (await (await fetch(`${s.app.controlUrl}/v1/changes?status=pending`, { headers: { authorization: `Bearer ${rita}` } })).json()) as { changes: Array<{ id: string }> };
    expect(list.changes.map((c) => c.id)).toContain(json.changeRequestId);
    const one = (await (await fetch(`${s.app.controlUrl}/v1/changes/${json.changeRequestId}`, { headers: { authorization: `Bearer ${rita}` } })).json()) as Record<string, unknown>;
    expect(one).toMatchObject({ status: 'pending', flagKey: 'payments.instant-payouts', ticket: 'CHG-9' });
    // Only the media type and the X-Flaggate-* context are kept, in the store as on the screen.
    const kept = { ...context, 'x-flaggate-link-pr': 'https://git.test/pr/1' };
    expect(one.headers).toEqual(kept);
    const db = new Database(join(s.dataDir, 'ledger.sqlite'), { readonly: true });
    try {
      const row = db.prepare<[string], { headers: string }>('SELECT headers FROM change_requests WHERE id = ?').get(String(json.changeRequestId))!;
      expect(JSON.parse(row.headers)).toEqual(kept);
    } finally {
      db.close();
    }
    expect(one).toMatchObject({ object: { kind: 'flag', pointer: '' }, before: { state: 'DISABLED' }, after: { state: 'ENABLED' }, diff: [{ path: '/state', before: 'DISABLED', after: 'ENABLED' }] });
  });

  it('rejects a production change without a ticket, forwarding nothing', async () => {
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-ticket': '' });
    expect(res.status).toBe(403);
    expect(String(res.json.message)).toMatch(/ticket/);
  });

  it('applies after a second release engineer approves, with every step linked by the change-request id', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    const approved = await review(s, id, 'approve', await s.token('sam', 'flaggate-release'), 'looks right');
    expect(approved).toMatchObject({ status: 200, json: { status: 'applied', platformStatus: 200 } });
    const shown = await fetch(`${s.app.controlUrl}/v1/changes/${id}`, { headers: { authorization: `Bearer ${await s.token('sam', 'release_engineer')}` } });
    expect(await shown.json()).toMatchObject({ status: 'applied' });
    expect(flagState(s)).toBe('ENABLED');
    const mine = entries(s).filter((e) => e.change_request_id === id);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.requested', 'change.approved', 'change.decision', 'change.outcome']);
    expect(mine[2]).toMatchObject({ actor: { id: 'rita' }, decision: { allow: true }, approval: { approved_by: ['sam'] } });
    expect(mine[3]).toMatchObject({ outcome: { status: 'applied' } });
    expect(await review(s, id, 'approve', await s.token('carl', 'release_engineer'))).toMatchObject({ status: 409, json: { code: 'CHANGE_NOT_PENDING' } });
  });

  it('records a rejection with its reason and closes the request', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    expect(await review(s, id, 'reject', await s.token('sam', 'release_engineer'))).toMatchObject({ status: 400, json: { code: 'CONTROL_BAD_REQUEST' } });
    expect(await review(s, id, 'reject', await s.token('sam', 'release_engineer'), 'not during the freeze')).toMatchObject({ status: 200 });
    expect(entries(s).filter((e) => e.change_request_id === id).at(-1)).toMatchObject({ entry_type: 'change.rejected', reason: 'not during the freeze', actor: { id: 'sam' } });
  });

  it('lets only the requester, by their exact id, withdraw a change without an approver role', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    // Another principal whose id reads like rita's: refused as for any other person without the role.
    for (const lookalike of ['RITA', '\uff52\uff49\uff54\uff41', 'rita ']) {
      expect(await review(s, id, 'reject', await s.token(lookalike, 'nobody'), 'withdrawn'), lookalike).toMatchObject({ status: 403, json: { code: 'APPROVAL_ROLE_MISSING' } });
    }
    expect(await review(s, id, 'reject', await s.token('rita', 'nobody'), 'withdrawn')).toMatchObject({ status: 200, json: { status: 'rejected' } });
  });
});

describe('separation of duties', () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await start({ 'policy.bundle': twoApproverBundle });
  });
  afterAll(() => s.stop());

  it.each([
    { name: 'the requester approves their own change', sub: 'rita', roles: ['release_engineer'], code: 'APPROVAL_SELF', status: 403 },
    { name: 'the requester approves under another letter case', sub: 'Rita', roles: ['release_engineer'], code: 'APPROVAL_SELF', status: 403 },
    { name: 'the approver lacks the required role', sub: 'quinn', roles: ['qa'], code: 'APPROVAL_ROLE_MISSING', status: 403 },
  ])('rejects an approval when $name, and records it', async ({ sub, roles, code, status }) => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    expect(await review(s, id, 'approve', await s.token(sub, ...roles))).toMatchObject({ status, json: { code } });
    expect(entries(s).filter((e) => e.change_request_id === id).at(-1)).toMatchObject({ entry_type: 'change.approved', actor: { id: sub }, decision: { allow: false, error_code: code } });
  });

  it('rejects a second approval by the same person as APPROVAL_DUPLICATE and applies only with two distinct approvers', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    const sam = await s.token('sam', 'release_engineer');
    expect(await review(s, id, 'approve', sam)).toMatchObject({ status: 202, json: { status: 'pending' } });
    expect(await review(s, id, 'approve', sam)).toMatchObject({ status: 409, json: { code: 'APPROVAL_DUPLICATE' } });
    expect(await review(s, id, 'approve', await s.token('SAM', 'release_engineer'))).toMatchObject({ status: 409, json: { code: 'APPROVAL_DUPLICATE' } });
    expect(flagState(s)).toBe('DISABLED');
    expect(await review(s, id, 'approve', await s.token('tess', 'release_engineer'))).toMatchObject({ status: 200, json: { status: 'applied' } });
    expect(flagState(s)).toBe('ENABLED');
    const steps = entries(s).filter((e) => e.change_request_id === id).map((e) => `${e.entry_type}:${String(e.decision.error_code)}`);
    expect(steps).toEqual(['change.requested:null', 'change.approved:null', 'change.approved:APPROVAL_DUPLICATE', 'change.approved:APPROVAL_DUPLICATE', 'change.approved:null', 'change.decision:null', 'change.outcome:null']);
  });
});

describe('separation of duties: service accounts', () => {
  let s: Sidecar;
  let listed: Sidecar;
  beforeAll(async () => {
    [s, listed] = await Promise.all([start(), start({ 'policy.bundle': botApproverBundle })]);
  });
  afterAll(() => Promise.all([s.stop(), listed.stop()]));

  it('refuses the approval of a client-credentials actor with an approver role, records it and applies nothing', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    const res = await review(s, id, 'approve', await s.serviceToken('release-bot', 'release_engineer'), 'pipeline green');
    expect(res).toMatchObject({ status: 403, json: { code: 'APPROVAL_ROLE_MISSING' } });
    expect(String(res.json.message)).toMatch(/service account release-bot may not approve/);
    expect(flagState(s)).toBe('DISABLED');
    expect(entries(s).filter((e) => e.change_request_id === id).at(-1)).toMatchObject({
      entry_type: 'change.approved',
      actor: { id: 'release-bot', auth_method: 'client-credentials' },
      decision: { allow: false, error_code: 'APPROVAL_ROLE_MISSING' },
    });
    // A person still can.
    expect(await review(s, id, 'approve', await s.token('sam', 'release_engineer'))).toMatchObject({ status: 200, json: { status: 'applied' } });
  });

  it('does not count an approval token naming a service account: the change is held', async () => {
    const token = await gateToken({ sub: 'release-bot', gty: 'client-credentials', htu: '/flags/payments.instant-payouts/disable' });
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': token }, '/flags/payments.instant-payouts/disable');
    expect(res.status).toBe(202);
    expect(flagState(s)).toBe('ENABLED');
  });

  it('counts a service account the policy data lists as an approver', async () => {
    const { json } = await propose(listed, await listed.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    expect(await review(listed, id, 'approve', await listed.serviceToken('other-bot', 'release_engineer'))).toMatchObject({ status: 403, json: { code: 'APPROVAL_ROLE_MISSING' } });
    expect(await review(listed, id, 'approve', await listed.serviceToken('release-bot', 'release_engineer'))).toMatchObject({ status: 200, json: { status: 'applied' } });
    expect(flagState(listed)).toBe('ENABLED');
    const decision = entries(listed).find((e) => e.change_request_id === id && e.entry_type === 'change.decision');
    expect(decision).toMatchObject({ decision: { allow: true }, approval: { approved_by: ['release-bot'] } });
  });
});

describe('expiry and staleness', () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.stop());

  it('expires a request past its time with a change.expired entry', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'));
    const id = String(json.changeRequestId);
    s.clock.advance(3600 * 1000);
    expect(await review(s, id, 'approve', await s.token('sam', 'release_engineer'))).toMatchObject({ status: 410, json: { code: 'CHANGE_EXPIRED' } });
    expect(entries(s).filter((e) => e.change_request_id === id).map((e) => e.entry_type)).toEqual(['change.requested', 'change.expired']);
    s.clock.advance(-3600 * 1000);
  });

  it('refuses to apply as CHANGE_STALE when the flag changed on the platform since the request', async () => {
    const { json } = await propose(s, await s.token('rita', 'release_engineer'), {}, '/flags/payments.instant-payouts/disable');
    const id = String(json.changeRequestId);
    // Someone edits the flag file behind flaggate's back.
    const path = join(s.dataDir, 'flags.flagd.json');
    const file = JSON.parse(readFileSync(path, 'utf8')) as { flags: Record<string, { defaultVariant: string }> };
    file.flags['payments.instant-payouts']!.defaultVariant = 'on';
    writeFileSync(path, JSON.stringify(file));
    expect(await review(s, id, 'approve', await s.token('sam', 'release_engineer'))).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
    expect(entries(s).filter((e) => e.change_request_id === id).at(-1)).toMatchObject({ entry_type: 'change.decision', decision: { allow: false, error_code: 'CHANGE_STALE' } });
    expect(await review(s, id, 'approve', await s.token('tess', 'release_engineer'))).toMatchObject({ status: 409, json: { code: 'CHANGE_NOT_PENDING' } });
  });
});

describe('approval tokens (X-Flaggate-Approval)', () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.stop());

  it('applies a change carrying a valid approval token at once, recording the token as proof', async () => {
    const token = await gateToken();
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': token });
    expect(res.status).toBe(200);
    expect(flagState(s)).toBe('ENABLED');
    const decision = entries(s).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    expect(decision).toMatchObject({ decision: { allow: true }, approval: { approved_by: ['sam'], approval_proof: expect.stringMatching(/^token:https:\/\/gate\.test#/) } });

    const replay = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': token });
    expect(replay).toMatchObject({ status: 409, json: { code: 'APPROVAL_TOKEN_REPLAYED' } });
  });

  it.each([
    { name: 'alg: none', code: 'IDENTIFY_ALG_NOT_ALLOWED', token: async () => unsecuredToken({ iss: GATE, aud: AUD, sub: 'sam', exp: NOW + 60, jti: 'x' }) },
    { name: 'HS256 keyed with the issuer public key', code: 'IDENTIFY_ALG_NOT_ALLOWED', token: () => hmacWithPublicKey(gateKey, { iss: GATE, aud: AUD, sub: 'sam', exp: NOW + 60, jti: 'x' }) },
    { name: 'expired', code: 'IDENTIFY_TOKEN_EXPIRED', token: () => gateToken({}, gateKey, GATE, AUD, NOW - 3600) },
    { name: 'not yet valid', code: 'IDENTIFY_TOKEN_NOT_YET_VALID', token: () => gateToken({}, gateKey, GATE, AUD, NOW + 3600) },
    { name: 'from another issuer', code: 'IDENTIFY_ISSUER_MISMATCH', token: () => gateToken({}, gateKey, 'https://evil.test') },
    { name: 'for another audience', code: 'IDENTIFY_AUDIENCE_MISMATCH', token: () => gateToken({}, gateKey, GATE, 'someone-else') },
    { name: 'for any sidecar while spent jtis are local', code: 'IDENTIFY_AUDIENCE_MISMATCH', token: () => gateToken({}, gateKey, GATE, 'flaggate-approval') },
    { name: "for another sidecar's chain", code: 'IDENTIFY_AUDIENCE_MISMATCH', token: () => gateToken({}, gateKey, GATE, 'flaggate-approval:replica-b') },
    { name: 'without iat', code: 'APPROVAL_TOKEN_LIFETIME', token: () => gateToken({ iat: undefined }) },
    { name: 'living longer than the cap', code: 'APPROVAL_TOKEN_LIFETIME', token: () => gateToken({ exp: NOW + 901 }) },
    { name: 'issued longer ago than the cap', code: 'APPROVAL_TOKEN_LIFETIME', token: () => gateToken({ iat: NOW - 1000, nbf: NOW - 1000, exp: NOW + 60 }) },
    { name: 'issued in the future', code: 'APPROVAL_TOKEN_LIFETIME', token: () => gateToken({ iat: NOW + 600, exp: NOW + 900 }) },
    { name: 'naming no requester', code: 'APPROVAL_TOKEN_REQUESTER', token: () => gateToken({ requester: undefined }) },
    { name: "issued for another person's change", code: 'APPROVAL_TOKEN_REQUESTER', token: () => gateToken({ requester: 'riley' }) },
    { name: 'issued for another ticket', code: 'APPROVAL_TOKEN_MISMATCH', token: () => gateToken({ ticket: 'CHG-7' }) },
    { name: 'signed under an unknown kid', code: 'IDENTIFY_KEY_UNKNOWN', token: () => signWith({ ...strangerKey, kid: 'gate-9' }, { iss: GATE, aud: 'flaggate-approval', sub: 'sam', now: NOW, claims: { jti: 'x' } }) },
    { name: 'signed by another key under the trusted kid', code: 'IDENTIFY_TOKEN_INVALID', token: () => gateToken({}, strangerKey) },
    { name: 'its payload altered after signing', code: 'IDENTIFY_TOKEN_INVALID', token: async () => withPayload(await gateToken({ roles: ['qa'] }), (c) => ({ ...c, roles: ['release_engineer'] })) },
    { name: 'bound to a different change', code: 'APPROVAL_TOKEN_MISMATCH', token: () => gateToken({ change_sha256: 'ab'.repeat(32) }) },
    { name: 'bound to a different path', code: 'APPROVAL_TOKEN_MISMATCH', token: () => gateToken({ htu: '/flags/payments.other/enable' }) },
    { name: 'bound to another platform', code: 'APPROVAL_TOKEN_MISMATCH', token: () => gateToken({ platform: 'unleash' }) },
    { name: 'issued to the requester', code: 'APPROVAL_SELF', token: () => gateToken({ sub: 'rita' }) },
    { name: 'issued to the requester under another letter case', code: 'APPROVAL_SELF', token: () => gateToken({ sub: ' RITA' }) },
  ])('rejects a change whose approval token is $name, and records it', async ({ token, code }) => {
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': await token() });
    expect(res.json).toMatchObject({ code });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(entries(s).find((e) => e.decision_id === res.decisionId)).toMatchObject({ entry_type: 'change.decision', decision: { allow: false, error_code: code } });
  });

  it('accepts a token naming the ticket of the request, the requester in another letter case', async () => {
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': await gateToken({ ticket: 'CHG-9', requester: 'Rita', htu: '/flags/payments.instant-payouts/disable' }) }, '/flags/payments.instant-payouts/disable');
    expect(res.status).toBe(200);
  });

  it('accepts a token naming the platform the change is made on', async () => {
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': await gateToken({ platform: 'flagd', htu: '/flags/payments.instant-payouts/disable' }) }, '/flags/payments.instant-payouts/disable');
    expect(res.status).toBe(200);
  });

  it('refuses at another sidecar a token spent at this one (each keeps its own spent jtis)', async () => {
    const other = await start({ 'audit.chainId': 'replica-b' });
    try {
      const token = await gateToken();
      expect((await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': token })).status).toBe(200);
      const replay = await propose(other, await other.token('rita', 'release_engineer'), { 'x-flaggate-approval': token });
      expect(replay).toMatchObject({ status: 401, json: { code: 'IDENTIFY_AUDIENCE_MISMATCH' } });
      expect(flagState(other)).toBe('DISABLED');
      const forB = await gateToken({}, gateKey, GATE, 'flaggate-approval:replica-b');
      expect((await propose(other, await other.token('rita', 'release_engineer'), { 'x-flaggate-approval': forB })).status).toBe(200);
      expect(flagState(other)).toBe('ENABLED');
    } finally {
      await other.stop();
    }
  });

  it('holds a change whose approval token holds a role that does not count', async () => {
    const res = await propose(s, await s.token('rita', 'release_engineer'), { 'x-flaggate-approval': await gateToken({ roles: ['qa'] }) });
    expect(res.status).toBe(202);
  });
});

describe('the out-of-hours alert', () => {
  it('counts a critical change made on a Saturday, allowed or held', async () => {
    const s = await start();
    try {
      s.clock.advance(5 * 24 * 3600 * 1000); // Saturday
      const res = await propose(s, await s.token('rita', 'release_engineer'));
      expect(res.status).toBe(202);
      const metrics = await (await fetch(`${s.app.controlUrl}/metrics`)).text();
      expect(metrics).toMatch(/flaggate_out_of_hours_critical_changes_total\{environment="production"\} 1/);
    } finally {
      await s.stop();
    }
  });
});

/**
 * `htu` is the path as the platform sees it, its prefix taken off: where one sidecar fronts several
 * platforms, the same path and body under another platform's prefix would match it. There a token
 * must name its platform.
 */
describe('approval tokens where a sidecar fronts several platforms', () => {
  let s: Sidecar;
  const state = (file: string) => (JSON.parse(readFileSync(join(s.dataDir, file), 'utf8')) as { flags: Record<string, { state: string }> }).flags['payments.instant-payouts']!.state;
  beforeAll(async () => {
    s = await start({
      platforms: [
        { name: 'flagd', targetUrl: 'flags.flagd.json', pathPrefix: '/flagd' },
        { id: 'payments', name: 'flagd', targetUrl: 'payments.flagd.json', pathPrefix: '/payments' },
      ],
    });
  });
  afterAll(() => s.stop());

  it('refuses a token that names no platform, or another one, and applies one naming the platform it is used on', async () => {
    const rita = await s.token('rita', 'release_engineer');
    const at = `/payments${CRITICAL}`;
    for (const claims of [{}, { platform: 'flagd' }]) {
      const res = await propose(s, rita, { 'x-flaggate-approval': await gateToken(claims) }, at);
      expect(res.json, JSON.stringify(claims)).toMatchObject({ code: 'APPROVAL_TOKEN_MISMATCH' });
    }
    expect(state('payments.flagd.json')).toBe('DISABLED');
    const ok = await propose(s, rita, { 'x-flaggate-approval': await gateToken({ platform: 'payments' }) }, at);
    expect(ok.status).toBe(200);
    expect(state('payments.flagd.json')).toBe('ENABLED');
    expect(state('flags.flagd.json')).toBe('DISABLED');
  });
});

describe('reviewers approving one held change at once', () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await start();
  });
  afterAll(() => s.stop());

  it('applies it once; the others, who waited for its flag behind the one who applied it, are told it is no longer pending, never that it was tampered with or that the flag changed', async () => {
    // Several rounds, enabling and disabling: an approval stored before its entry was once found by the applying reviewer as tampered with.
    for (let round = 0; round < 6; round += 1) {
      const path = round % 2 === 0 ? CRITICAL : CRITICAL.replace(/enable$/, 'disable');
      const { json } = await propose(s, await s.token('rita', 'release_engineer'), {}, path);
      const id = String(json.changeRequestId);
      const tokens = await Promise.all(['sam', 'carl', 'dana'].map((who) => s.token(who, 'release_engineer')));
      const results = await Promise.all(tokens.map((token) => review(s, id, 'approve', token)));
      expect(results.filter((r) => r.status === 200).map((r) => r.json.status), JSON.stringify(results)).toEqual(['applied']);
      const others = results.filter((r) => r.status !== 200);
      expect(others).toHaveLength(2);
      for (const r of others) expect(r).toMatchObject({ status: 409, json: { code: 'CHANGE_NOT_PENDING' } });
      expect(flagState(s)).toBe(round % 2 === 0 ? 'ENABLED' : 'DISABLED');
      expect(entries(s).filter((e) => e.change_request_id === id && ['CHANGE_STALE', 'CHANGE_TAMPERED'].includes(String(e.decision.error_code)))).toEqual([]);
    }
  });

  it('records one approval of a person who approves twice at once, and refuses the other as a duplicate', async () => {
    const two = await start({ 'policy.bundle': twoApproverBundle });
    try {
      const { json } = await propose(two, await two.token('rita', 'release_engineer'));
      const id = String(json.changeRequestId);
      const sam = await two.token('sam', 'release_engineer');
      const results = await Promise.all([review(two, id, 'approve', sam), review(two, id, 'approve', sam)]);
      expect(results.map((r) => r.status).sort()).toEqual([202, 409]); // 202: counted, one more approval to go
      expect(results.find((r) => r.status === 409)).toMatchObject({ json: { code: 'APPROVAL_DUPLICATE' } });
      const steps = entries(two).filter((e) => e.change_request_id === id && e.entry_type === 'change.approved');
      expect(steps.filter((e) => e.decision.allow === true)).toHaveLength(1);
      expect(steps.filter((e) => e.decision.error_code === 'APPROVAL_DUPLICATE')).toHaveLength(1);
      expect(flagState(two)).toBe('DISABLED');
    } finally {
      await two.stop();
    }
  });
});
