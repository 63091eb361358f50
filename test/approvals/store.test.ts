import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresChangeStore, openSqliteChangeStore, type ChangeRequest, type ChangeStore } from '../../src/approvals/index.js';
import { createPostgresSink } from '../../src/replicate/index.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';
import { toRow } from '../../src/approvals/rows.js';
import { EVIDENCE_SQL } from '../../src/approvals/postgres-store.js';
import { join } from 'node:path';
import { openLedger } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';

const FINAL = ['applied', 'failed', 'rejected', 'expired', 'stale', 'denied'] as const;

function request(overrides: Partial<ChangeRequest> = {}): ChangeRequest {
  return {
    id: randomUUID(),
    decisionId: randomUUID(),
    status: 'pending',
    createdAt: '2030-01-07T10:00:00.000Z',
    expiresAt: '2030-01-07T11:00:00.000Z',
    requester: { id: 'rita', displayName: 'Rita', authMethod: 'jwt', roles: ['release_engineer'] },
    method: 'POST',
    path: '/flags/payments.instant-payouts/enable',
    headers: { 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9' },
    // Not UTF-8 on purpose: the stored bytes must come back exactly.
    body: Buffer.from([0x00, 0xff, 0x7b, 0x22, 0xc3, 0x28, 0x0a]),
    bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    change: { platform: 'flagd', action: 'flag.enable', flagKey: 'payments.instant-payouts', environment: 'production', previousState: { state: 'DISABLED' }, newState: { state: 'ENABLED' }, request: { method: 'POST', path: '/flags/payments.instant-payouts/enable', bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' } },
    context: { reason: 'payouts launch', ticket: 'CHG-9', links: {} },
    requiredApprovals: 1,
    approverRoles: ['release_engineer'],
    heldBy: { chainId: 'replica-a', platform: 'flagd', targetSha256: 'ef'.repeat(32) },
    ...overrides,
  };
}

const approval = (approverId: string, at = '2030-01-07T10:05:00.000Z') => ({ approverId, roles: ['release_engineer'], authMethod: 'jwt' as const, approvedAt: at, reason: 'reviewed', proof: null });

interface Pair {
  /** Two stores on the same data, as two replicas would hold them. */
  a: ChangeStore;
  b: ChangeStore;
}

let cluster: PgCluster;
let db: LedgerDatabase;
let pgUrl: string;
/** Each replica logs in as the role registered for its own chain. */
const replicaUrls: Record<string, string> = {};
const temp = makeTempDir('flaggate-change-store-');

beforeAll(async () => {
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'changes');
  pgUrl = db.ownerUrl;
  for (const chain of ['replica-a', 'replica-b']) replicaUrls[chain] = await db.writerUrl(chain);
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  temp.cleanup();
});

const kinds: Array<[string, () => Pair]> = [
  ['SQLite (one ledger file)', () => ({ a: openSqliteChangeStore(`${temp.dir}/ledger.sqlite`), b: openSqliteChangeStore(`${temp.dir}/ledger.sqlite`) })],
  [
    'PostgreSQL (shared by replicas)',
    () => ({
      a: openPostgresChangeStore({ url: replicaUrls['replica-a']!, chainId: 'replica-a', peerChains: ['replica-b'] }),
      b: openPostgresChangeStore({ url: replicaUrls['replica-b']!, chainId: 'replica-b', peerChains: ['replica-a'] }),
    }),
  ],
];

describe.each(kinds)('ChangeStore on %s', (_name, open) => {
  let s: Pair;
  beforeAll(() => {
    s = open();
  });
  afterAll(async () => {
    await s.a.close();
    await s.b.close();
  });

  describe('insert', () => {
    it('stores a request that the other instance reads back byte for byte', async () => {
      const cr = request();
      await s.a.insert(cr);
      expect(await s.b.get(cr.id)).toEqual(cr);
      expect((await s.b.get(cr.id))!.body.equals(cr.body)).toBe(true);
      expect(await s.b.get(randomUUID())).toBeUndefined();
    });

    it('rejects a second request with the same id as AUDIT_WRITE_FAILED', async () => {
      const cr = request();
      await s.a.insert(cr);
      await expect(s.b.insert(cr)).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
    });
  });

  describe('list', () => {
    it('lists by status, oldest first', async () => {
      const older = request({ createdAt: '2030-01-01T00:00:00.000Z' });
      const newer = request({ createdAt: '2030-01-01T00:00:01.000Z' });
      await s.b.insert(newer);
      await s.a.insert(older);
      await s.a.settle(newer.id, 'rejected');
      const pendingIds = (await s.b.list('pending')).map((c) => c.id);
      expect(pendingIds).toContain(older.id);
      expect(pendingIds).not.toContain(newer.id);
      const all = (await s.a.list()).map((c) => c.id);
      expect(all.indexOf(older.id)).toBeLessThan(all.indexOf(newer.id));
      expect((await s.a.list('rejected')).map((c) => c.id)).toContain(newer.id);
    });
  });

  describe('settle', () => {
    it('moves a request out of pending exactly once under concurrent calls from both instances', async () => {
      const cr = request();
      await s.a.insert(cr);
      const attempts = Array.from({ length: 12 }, (_, i) => ({ store: i % 2 === 0 ? s.a : s.b, status: FINAL[i % FINAL.length]! }));
      const won = await Promise.all(attempts.map((t) => t.store.settle(cr.id, t.status)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = attempts[won.indexOf(true)]!;
      expect((await s.b.get(cr.id))!.status).toBe(winner.status);
      expect(await s.a.settle(cr.id, 'applied')).toBe(false);
    });

    it('returns false for an unknown request', async () => {
      expect(await s.a.settle(randomUUID(), 'expired')).toBe(false);
    });
  });

  describe('finish', () => {
    it('ends an applying request once, as applied or failed, and nothing else', async () => {
      const cr = request();
      await s.a.insert(cr);
      expect(await s.a.finish(cr.id, 'applied')).toBe(false); // still pending
      expect(await s.a.settle(cr.id, 'applying')).toBe(true);
      const finished = await Promise.all([s.a.finish(cr.id, 'failed'), s.b.finish(cr.id, 'applied')]);
      expect(finished.filter(Boolean)).toHaveLength(1);
      expect(['applied', 'failed']).toContain((await s.b.get(cr.id))!.status);
      expect(await s.a.settle(cr.id, 'rejected')).toBe(false);
      // Sent with no answer: unknown, which the database takes as an end like the others.
      const sent = request();
      await s.a.insert(sent);
      expect(await s.a.settle(sent.id, 'applying')).toBe(true);
      expect(await s.b.finish(sent.id, 'unknown')).toBe(true);
      expect((await s.a.get(sent.id))!.status).toBe('unknown');
      expect(await s.a.finish(sent.id, 'applied')).toBe(false);
    });
  });

  describe('addApproval', () => {
    it('counts each approver once across instances, even when both add at once', async () => {
      const cr = request();
      await s.a.insert(cr);
      const added = await Promise.all([s.a.addApproval(cr.id, approval('sam')), s.b.addApproval(cr.id, approval('sam', '2030-01-07T10:05:01.000Z'))]);
      expect(added.filter(Boolean)).toHaveLength(1);
      expect(await s.b.addApproval(cr.id, approval('sam'))).toBe(false);
      expect(await s.b.addApproval(cr.id, approval('lee', '2030-01-07T10:06:00.000Z'))).toBe(true);
      expect((await s.a.approvals(cr.id)).map((a) => a.approverId)).toEqual(['sam', 'lee']);
      expect((await s.a.approvals(cr.id))[1]).toEqual(approval('lee', '2030-01-07T10:06:00.000Z'));
    });
  });

  describe('spendJti', () => {
    it('refuses a replayed jti across instances, and spends a concurrent pair once', async () => {
      const jti = randomUUID();
      expect(await s.a.spendJti('https://gate.test', jti, 'sha', '2030-01-07T10:00:00.000Z')).toBe(true);
      expect(await s.b.spendJti('https://gate.test', jti, 'sha', '2030-01-07T10:00:01.000Z')).toBe(false);
      expect(await s.b.spendJti('https://other-gate.test', jti, 'sha', '2030-01-07T10:00:01.000Z')).toBe(true);
      const racing = randomUUID();
      const spent = await Promise.all([s.a, s.b, s.a, s.b].map((st) => st.spendJti('https://gate.test', racing, 'sha', '2030-01-07T10:00:02.000Z')));
      expect(spent.filter(Boolean)).toHaveLength(1);
    });
  });
});

describe('openPostgresChangeStore', () => {
  let admin: pg.Client;
  let writer: ChangeStore;
  let writerUrl: string;
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: pgUrl });
    await admin.connect();
    writerUrl = await db.writerUrl('sidecar');
    writer = openPostgresChangeStore({ url: writerUrl, chainId: 'sidecar' });
  });
  afterAll(async () => {
    await writer?.close();
    await admin?.end();
  });

  it('works as a login role holding only flaggate_writer', async () => {
    const cr = request();
    await writer.insert(cr);
    expect(await writer.addApproval(cr.id, approval('sam'))).toBe(true);
    expect(await writer.spendJti('https://gate.test', randomUUID(), cr.bodySha256, cr.createdAt)).toBe(true);
    expect(await writer.settle(cr.id, 'applied')).toBe(true);
    expect((await writer.get(cr.id))!.status).toBe('applied');
  });

  it('rejects an update of anything but a pending status when the writer tries it (column grant)', async () => {
    const cr = request();
    await writer.insert(cr);
    const asWriter = new pg.Client({ connectionString: writerUrl });
    await asWriter.connect();
    try {
      await expect(asWriter.query("UPDATE flaggate.change_requests SET path = '/elsewhere' WHERE id = $1", [cr.id])).rejects.toMatchObject({ code: '42501' });
      await expect(asWriter.query('DELETE FROM flaggate.change_approvals')).rejects.toMatchObject({ code: '42501' });
    } finally {
      await asWriter.end();
    }
  });

  it('rejects at the database a request or approval row a writer inserts in another chain\'s name (row-level security)', async () => {
    const cr = request();
    await writer.insert(cr);
    const asWriter = new pg.Client({ connectionString: writerUrl });
    await asWriter.connect();
    try {
      const forged = { ...request(), chain_id: 'replica-a' };
      await expect(
        asWriter.query(
          `INSERT INTO flaggate.change_requests (id, decision_id, status, created_at, expires_at, requester, method, path, headers, body, body_sha256, change, context, required, approver_roles, chain_id)
           SELECT id, $1, status, created_at, expires_at, requester, method, path, headers, body, body_sha256, change, context, required, approver_roles, $2 FROM flaggate.change_requests WHERE id = $3`,
          [forged.decisionId, forged.chain_id, cr.id],
        ),
      ).rejects.toMatchObject({ code: '42501', message: expect.stringContaining('row-level security') });
      await expect(
        asWriter.query(`INSERT INTO flaggate.change_approvals (change_request_id, approver_id, roles, approved_at, chain_id) VALUES ($1, 'sam', '[]', 'now', 'replica-a')`, [cr.id]),
      ).rejects.toMatchObject({ code: '42501' });
      await expect(
        asWriter.query(`INSERT INTO flaggate.change_approvals (change_request_id, approver_id, roles, approved_at) VALUES ($1, 'sam', '[]', 'now')`, [cr.id]),
      ).rejects.toMatchObject({ code: '42501' });
      expect(await writer.approvals(cr.id)).toEqual([]);
    } finally {
      await asWriter.end();
    }
  });

  it("counts only its own chain's and its peers' evidence and approvals: another chain's writer can neither approve nor deny a change it does not hold", async () => {
    const cr = request({ heldBy: { chainId: 'sidecar', platform: 'flagd', targetSha256: 'ef'.repeat(32) } });
    await writer.insert(cr);
    const strangerUrl = await db.writerUrl('stranger');
    const stranger = openPostgresChangeStore({ url: strangerUrl, chainId: 'stranger' });
    const asStranger = new pg.Client({ connectionString: strangerUrl });
    await asStranger.connect();
    const peer = openPostgresChangeStore({ url: writerUrl, chainId: 'sidecar', peerChains: ['stranger'] });
    try {
      // Each row in the stranger's own chain, as row-level security allows it.
      expect(await stranger.addApproval(cr.id, approval('alice'))).toBe(true);
      // The body claims the holder's chain; the row's chain, which row-level security binds to the login, is the stranger's.
      const forged = { entry_type: 'change.approved', chain_id: 'sidecar', change_request_id: cr.id, actor: { id: 'alice', roles: ['release_engineer'] }, decision: { allow: true } };
      await asStranger.query('INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) VALUES ($1, 1, $2, $3, $4)', ['stranger', '0'.repeat(64), 'ab'.repeat(32), JSON.stringify(forged)]);
      expect(await writer.approvals(cr.id)).toEqual([]);
      expect(await writer.evidence(cr.id)).toEqual([]);
      // A chain named as a peer is trusted: its rows count.
      expect((await peer.approvals(cr.id)).map((a) => a.approverId)).toEqual(['alice']);
      expect((await peer.evidence(cr.id)).map((e) => e.actor.id)).toEqual(['alice']);
    } finally {
      await asStranger.end();
      await stranger.close();
      await peer.close();
    }
  });

  it("finds a held change's entries by the ledger's index, not by parsing every body; a body that is not JSON is refused", async () => {
    await admin.query('BEGIN');
    try {
      // Told away from reading the whole table, the planner takes the index only if it matches the query's expression.
      await admin.query('SET LOCAL enable_seqscan = off');
      const plan = (await admin.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${EVIDENCE_SQL}`, [randomUUID(), ['sidecar']])).rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).toContain('audit_entries_change_request');
    } finally {
      await admin.query('ROLLBACK');
    }
    await expect(
      admin.query("INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) VALUES ('unparsed', 1, $1, $2, 'not json')", ['0'.repeat(64), 'ab'.repeat(32)]),
    ).rejects.toMatchObject({ code: '22P02' });

    // A client's U+0000 in a recorded field (JSON writes it \u0000, which jsonb refuses) is delivered
    // and found like anything else: a chain cannot be made unreplicable, nor its evidence unreadable.
    const tmp = makeTempDir('flaggate-nul-');
    const ledger = openLedger({ path: join(tmp.dir, 'ledger.sqlite'), chainId: 'nul', clock: systemClock });
    const nulUrl = await db.writerUrl('nul');
    const sink = createPostgresSink({ name: 'pg', url: nulUrl, required: true });
    const nulStore = openPostgresChangeStore({ url: nulUrl, chainId: 'nul' });
    try {
      const id = randomUUID();
      const poisoned = ledger.append(sampleEntry(1, { reason: 'a\u0000b' }));
      const held = ledger.append(sampleEntry(2, { change_request_id: id, new_state: { note: 'c\u0000d' } }));
      await sink.deliver([poisoned, held]);
      expect(await sink.head('nul')).toMatchObject({ seq: 2 });
      expect((await nulStore.evidence(id)).map((e) => [e.seq, e.new_state])).toEqual([[2, { note: 'c\u0000d' }]]);
    } finally {
      await nulStore.close();
      await sink.close();
      ledger.close();
      tmp.cleanup();
    }
  });

  it('rejects reopening a settled request, editing held bytes or deleting, even for the owner', async () => {
    const cr = request();
    await writer.insert(cr);
    await writer.addApproval(cr.id, approval('sam'));
    await expect(admin.query("UPDATE flaggate.change_requests SET body = '\\x00'::bytea WHERE id = $1", [cr.id])).rejects.toMatchObject({ code: 'FGC01' });
    expect(await writer.settle(cr.id, 'rejected')).toBe(true);
    await expect(admin.query("UPDATE flaggate.change_requests SET status = 'pending' WHERE id = $1", [cr.id])).rejects.toMatchObject({ code: 'FGC01' });
    await expect(admin.query('DELETE FROM flaggate.change_requests WHERE id = $1', [cr.id])).rejects.toMatchObject({ code: 'FGC01' });
    await expect(admin.query('DELETE FROM flaggate.change_approvals WHERE change_request_id = $1', [cr.id])).rejects.toMatchObject({ code: 'FGC02' });
    await expect(admin.query('TRUNCATE flaggate.approval_token_jtis')).rejects.toMatchObject({ code: 'FGC02' });
  });

  it('rejects an approval of an unknown request as AUDIT_WRITE_FAILED', async () => {
    await expect(writer.addApproval(randomUUID(), approval('sam'))).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED' });
  });

  it('migrates concurrently from several stores beside the ledger migration', async () => {
    const url = await cluster.createDatabase('fresh');
    const sinks = [createPostgresSink({ name: 'p1', url, required: true, migrate: true }), createPostgresSink({ name: 'p2', url, required: true, migrate: true })];
    const stores = [1, 2, 3].map(() => openPostgresChangeStore({ url, chainId: 'eu-west', migrate: true }));
    try {
      await Promise.all([...sinks.map((k) => k.head('eu-west')), ...stores.map((st) => st.list())]);
      expect(await stores[0]!.list()).toEqual([]);
    } finally {
      await Promise.all([...sinks.map((k) => k.close()), ...stores.map((st) => st.close())]);
    }
  });
});

describe('openSqliteChangeStore on a ledger file made before approvals kept how the approver authenticated and requests where they were held', () => {
  it('adds the columns; earlier rows read back with authMethod and heldBy null (counted for nobody, applied nowhere)', async () => {
    const path = `${temp.dir}/old-ledger.sqlite`;
    const db = new Database(path);
    const old = toRow(request());
    db.exec(`CREATE TABLE change_requests (id TEXT PRIMARY KEY, decision_id TEXT NOT NULL, status TEXT NOT NULL, created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL, requester TEXT NOT NULL, method TEXT NOT NULL, path TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
      body_sha256 TEXT NOT NULL, change TEXT NOT NULL, context TEXT NOT NULL, required INTEGER NOT NULL, approver_roles TEXT NOT NULL)`);
    const { held_by: _, ...columns } = old;
    db.prepare(`INSERT INTO change_requests (${Object.keys(columns).join(', ')}) VALUES (${Object.keys(columns).map((c) => `@${c}`).join(', ')})`).run(columns);
    db.exec(`CREATE TABLE change_approvals (change_request_id TEXT NOT NULL, approver_id TEXT NOT NULL, roles TEXT NOT NULL,
      approved_at TEXT NOT NULL, reason TEXT, proof TEXT, PRIMARY KEY (change_request_id, approver_id));
      INSERT INTO change_approvals VALUES ('cr-1', 'sam', '["release_engineer"]', '2030-01-07T10:05:00.000Z', NULL, NULL);`);
    db.close();
    const store = openSqliteChangeStore(path);
    try {
      expect(await store.get(old.id)).toMatchObject({ id: old.id, heldBy: null });
      expect(await store.approvals('cr-1')).toEqual([{ approverId: 'sam', roles: ['release_engineer'], authMethod: null, approvedAt: '2030-01-07T10:05:00.000Z', reason: null, proof: null }]);
    } finally {
      await store.close();
    }
  });
});
