import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresReader } from '../../src/replicate/index.js';
import { startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { createLedgerDatabase, startPostgres, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const CRITICAL = '/flags/payments.instant-payouts/enable';
const context = { 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-42' };

let cluster: PgCluster | undefined;
let url: string;
let writerUrl: (chainId: string) => Promise<string>;
let a: SidecarProcess | undefined;
let b: SidecarProcess | undefined;
/** Same database and flag file as A, but A's chain is not its peer. */
let stranger: SidecarProcess | undefined;
/** Same database, A's chain listed as a peer, but its own flag file: another platform target. */
let otherTarget: SidecarProcess | undefined;
const shared = makeTempDir('flaggate-shared-flags-');
const dirs = [makeTempDir('flaggate-replica-a-'), makeTempDir('flaggate-replica-b-'), makeTempDir('flaggate-stranger-'), makeTempDir('flaggate-other-target-')];
const flagFile = join(shared.dir, 'flags.flagd.json');
const otherFlagFile = join(dirs[3]!.dir, 'other.flagd.json');

function flagState(file = flagFile): string {
  const flags = JSON.parse(readFileSync(file, 'utf8')) as { flags: Record<string, { state: string }> };
  return flags.flags['payments.instant-payouts']!.state;
}

async function call(method: string, target: string, token: string, body?: unknown) {
  const res = await fetch(target, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** One sidecar's own chain, read through its control port. */
async function entriesOf(s: SidecarProcess, changeRequestId: string) {
  const { json } = await call('GET', `${s.controlUrl}/v1/audit/entries?limit=1000`, await s.token('ada', 'auditor'));
  return (json.entries as Array<Record<string, unknown>>).filter((e) => e.change_request_id === changeRequestId);
}

beforeAll(async () => {
  cluster = await startPostgres();
  const db = await createLedgerDatabase(cluster, 'fleet');
  url = db.ownerUrl;
  writerUrl = (chainId) => db.writerUrl(chainId);
  // Each sidecar logs in as its own registered role.
  const env = async (chainId: string, more: Record<string, string> = {}) => ({ FLAGGATE_UPSTREAM_POSTGRES_URL: await db.writerUrl(chainId), FLAGGATE_PLATFORM: 'flagd', FLAGGATE_TARGET_URL: flagFile, ...more });
  // The first seeds the shared flag file. A and B are replicas of one deployment: each lists the other.
  a = await startSidecarProcess({ dataDir: dirs[0]!.dir, chainId: 'replica-a', env: await env('replica-a', { FLAGGATE_APPROVALS_PEER_CHAINS: 'replica-b' }) });
  [b, stranger, otherTarget] = await Promise.all([
    env('replica-b', { FLAGGATE_APPROVALS_PEER_CHAINS: 'replica-a' }).then((e) => startSidecarProcess({ dataDir: dirs[1]!.dir, chainId: 'replica-b', env: e })),
    env('stranger').then((e) => startSidecarProcess({ dataDir: dirs[2]!.dir, chainId: 'stranger', env: e })),
    env('other-target', { FLAGGATE_TARGET_URL: otherFlagFile, FLAGGATE_APPROVALS_PEER_CHAINS: 'replica-a' }).then((e) => startSidecarProcess({ dataDir: dirs[3]!.dir, chainId: 'other-target', env: e })),
  ]);
}, 180_000);

afterAll(async () => {
  await Promise.all([a, b, stranger, otherTarget].map((s) => s?.kill('SIGTERM')));
  await cluster?.stop();
  for (const d of [shared, ...dirs]) d.cleanup();
}, 60_000);

describe('change requests shared by two sidecars through the PostgreSQL ledger', () => {
  it('holds a change through one replica and applies it once approved through the other', { timeout: 60_000 }, async () => {
    // Each sidecar trusts only its own development issuer: mint every token where it is sent.
    const held = await fetch(a!.proxyUrl + CRITICAL, { method: 'POST', headers: { authorization: `Bearer ${await a!.token('rita', 'release_engineer')}`, ...context } });
    const heldJson = (await held.json()) as Record<string, unknown>;
    expect(held.status, JSON.stringify(heldJson)).toBe(202);
    const id = String(heldJson.changeRequestId);
    expect(flagState()).toBe('DISABLED');

    const ritaAtB = await b!.token('rita', 'release_engineer');
    const listed = await call('GET', `${b!.controlUrl}/v1/changes?status=pending`, ritaAtB);
    expect(listed.status).toBe(200);
    expect((listed.json.changes as Array<{ id: string }>).map((c) => c.id)).toContain(id);
    const shown = await call('GET', `${b!.controlUrl}/v1/changes/${id}`, ritaAtB);
    expect(shown.json).toMatchObject({ status: 'pending', flagKey: 'payments.instant-payouts', environment: 'production', ticket: 'CHG-42', requester: { id: 'rita' } });

    // Neither a sidecar that is not A's peer, nor a peer in front of another platform, may approve it.
    // Nor reject it: a change is settled only where it was held.
    for (const [elsewhere, reason] of [[stranger!, 'chain'], [otherTarget!, 'target']] as const) {
      const refused = await call('POST', `${elsewhere.controlUrl}/v1/changes/${id}/approve`, await elsewhere.token('sam', 'release_engineer'), { reason: 'reviewed' });
      expect(refused, reason).toMatchObject({ status: 409, json: { code: 'CHANGE_HELD_ELSEWHERE', details: { reason, heldBy: { chainId: 'replica-a', platform: 'flagd' } } } });
      const rejected = await call('POST', `${elsewhere.controlUrl}/v1/changes/${id}/reject`, await elsewhere.token('mallory', 'release_engineer'), { reason: 'nope' });
      expect(rejected, reason).toMatchObject({ status: 409, json: { code: 'CHANGE_HELD_ELSEWHERE', details: { reason } } });
      expect(await entriesOf(elsewhere, id)).toMatchObject([
        { entry_type: 'change.approved', decision: { allow: false, error_code: 'CHANGE_HELD_ELSEWHERE' } },
        { entry_type: 'change.rejected', actor: { id: 'mallory' }, decision: { allow: false, error_code: 'CHANGE_HELD_ELSEWHERE' } },
      ]);
    }
    expect((await call('GET', `${b!.controlUrl}/v1/changes/${id}`, ritaAtB)).json).toMatchObject({ status: 'pending' });
    expect(flagState(otherFlagFile)).toBe('DISABLED');
    expect(flagState()).toBe('DISABLED');

    const self = await call('POST', `${b!.controlUrl}/v1/changes/${id}/approve`, ritaAtB, { reason: 'looks fine to me' });
    expect(self).toMatchObject({ status: 403, json: { code: 'APPROVAL_SELF' } });
    expect(flagState()).toBe('DISABLED');

    const approved = await call('POST', `${b!.controlUrl}/v1/changes/${id}/approve`, await b!.token('sam', 'release_engineer'), { reason: 'reviewed' });
    expect(approved).toMatchObject({ status: 200, json: { status: 'applied', platformStatus: 200 } });
    expect(flagState()).toBe('ENABLED');

    // The other replica sees the request settled.
    const again = await call('POST', `${a!.controlUrl}/v1/changes/${id}/approve`, await a!.token('lee', 'release_engineer'), { reason: 'late' });
    expect(again).toMatchObject({ status: 409, json: { code: 'CHANGE_NOT_PENDING' } });

    const inA = await entriesOf(a!, id);
    expect(inA).toMatchObject([{ entry_type: 'change.requested', chain_id: 'replica-a', actor: { id: 'rita' }, flag_key: 'payments.instant-payouts', linked_artifacts: { ticket: 'CHG-42' } }]);
    const inB = await entriesOf(b!, id);
    expect(inB.map((e) => e.entry_type)).toEqual(['change.approved', 'change.approved', 'change.decision', 'change.outcome']);
    // The refused approvals elsewhere counted for nothing.
    expect(inB[2]).toMatchObject({ approval: { approved_by: ['sam'] } });
    expect(inB[0]).toMatchObject({ chain_id: 'replica-b', actor: { id: 'rita' }, decision: { allow: false, error_code: 'APPROVAL_SELF' } });
    expect(inB[1]).toMatchObject({ actor: { id: 'sam' }, reason: 'reviewed', decision: { allow: true } });
    expect(inB[2]).toMatchObject({ actor: { id: 'rita' }, decision: { allow: true }, approval: { approved_by: ['sam'] }, request: { path: CRITICAL } });
    expect(inB[3]).toMatchObject({ outcome: { status: 'applied' } });
    expect(inB[2]!.request).toEqual(inA[0]!.request);
  });

  it('holds the request, its approval and the decision in the central ledger, one chain per replica', async () => {
    const reader = openPostgresReader(url);
    try {
      const bodies = async (chainId: string) => (await reader.reader(chainId)(0, 10_000)).map((r) => JSON.parse(r.body) as Record<string, unknown>);
      const requested = (await bodies('replica-a')).filter((e) => e.entry_type === 'change.requested');
      expect(requested).toHaveLength(1);
      const linked = (await bodies('replica-b')).filter((e) => e.change_request_id === requested[0]!.change_request_id).map((e) => e.entry_type);
      expect(linked).toEqual(expect.arrayContaining(['change.approved', 'change.decision']));
    } finally {
      await reader.close();
    }
  });

  it('refuses at apply a row forged with a sidecar database login, which row-level security lets it write', { timeout: 60_000 }, async () => {
    const held = await fetch(a!.proxyUrl + CRITICAL, { method: 'POST', headers: { authorization: `Bearer ${await a!.token('rita', 'release_engineer')}`, ...context } });
    expect(held.status).toBe(202);
    const genuine = String(((await held.json()) as { changeRequestId: string }).changeRequestId);
    const forged = randomUUID();
    // A copy of a genuine held row under a new id, in replica-a's own chain: the database accepts it.
    const client = new pg.Client({ connectionString: await writerUrl('replica-a') });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO flaggate.change_requests SELECT (jsonb_populate_record(NULL::flaggate.change_requests, to_jsonb(r) || jsonb_build_object('id', $2::text))).* FROM flaggate.change_requests r WHERE r.id = $1`,
        [genuine, forged],
      );
    } finally {
      await client.end();
    }
    const before = flagState();
    const approved = await call('POST', `${a!.controlUrl}/v1/changes/${forged}/approve`, await a!.token('sam', 'release_engineer'), { reason: 'looks fine' });
    expect(approved).toMatchObject({ status: 409, json: { code: 'CHANGE_TAMPERED' } });
    expect(flagState()).toBe(before);
    const recorded = await entriesOf(a!, forged);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.every((e) => (e.decision as { error_code: string }).error_code === 'CHANGE_TAMPERED')).toBe(true);
    // The genuine one is still pending and can be rejected by its requester.
    expect((await call('POST', `${a!.controlUrl}/v1/changes/${genuine}/reject`, await a!.token('rita', 'release_engineer'), { reason: 'withdrawn' })).status).toBe(200);
  });
});
