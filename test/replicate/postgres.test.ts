import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type AuditEntry, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import {
  compareWithUpstream,
  createPostgresSink,
  createReplicator,
  migratePostgres,
  openPostgresReader,
  type PostgresSink,
} from '../../src/replicate/index.js';
import { verifyPostgresLedger } from '../../src/replicate/verify-postgres.js';
import { proveInWorker, type StoredRow } from '../../src/audit/index.js';
import { readCopyRows } from '../../src/audit/copy-binary-rows.js';
import { to as copyTo } from 'pg-copy-streams';
import { sampleEntry } from '../support/entries.js';
import { registerWriter, startPostgres, type PgCluster } from '../support/postgres.js';
import { grantChainWriter } from '../../src/db-admin.js';
import { runCli } from './sidecar-process.js';
import { checkWriterLogin } from '../../src/replicate/index.js';
import { startFlaggate } from '../../src/main.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { makeTempDir } from '../support/temp-dir.js';

let cluster: PgCluster;
let dbCount = 0;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  cluster = await startPostgres();
});
afterAll(async () => cluster?.stop());
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fresh, migrated database per test. */
async function freshDb(): Promise<{ url: string; admin: pg.Client }> {
  dbCount += 1;
  const url = await cluster.createDatabase(`sink_${dbCount}`);
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  cleanups.push(() => admin.end());
  await migratePostgres(admin);
  return { url, admin };
}

function ledgerWith(chainId: string, n: number): { ledger: Ledger; entries: AuditEntry[] } {
  const tmp = makeTempDir();
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId, clock: fixedClock(1_700_000_000_000) });
  cleanups.push(() => tmp.cleanup(), () => ledger.close());
  const entries = Array.from({ length: n }, (_, i) => ledger.append(sampleEntry(i + 1)));
  return { ledger, entries };
}

function sink(url: string, extra: Partial<Parameters<typeof createPostgresSink>[0]> = {}): PostgresSink {
  const s = createPostgresSink({ name: 'postgres', url, required: true, ...extra });
  cleanups.push(() => s.close());
  return s;
}

const count = async (admin: pg.Client, chainId: string) =>
  Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM flaggate.audit_entries WHERE chain_id = $1', [chainId])).rows[0]!.n);

describe('migratePostgres', () => {
  it('is idempotent when several processes run it at once', async () => {
    const { url } = await freshDb();
    const clients = await Promise.all([1, 2, 3].map(async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }));
    try {
      await Promise.all(clients.map((c) => migratePostgres(c)));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it.each([
    { name: 'an UPDATE', sql: "UPDATE flaggate.audit_entries SET body = '{}' WHERE seq = 1" },
    { name: 'a DELETE', sql: 'DELETE FROM flaggate.audit_entries WHERE seq = 2' },
    { name: 'a TRUNCATE', sql: 'TRUNCATE flaggate.audit_entries' },
  ])('rejects $name even from the owner', async ({ sql }) => {
    const { url, admin } = await freshDb();
    const { entries } = ledgerWith('a', 3);
    await sink(url).deliver(entries);
    await expect(admin.query(sql)).rejects.toMatchObject({ code: 'FGA01' });
    expect(await count(admin, 'a')).toBe(3);
  });

  it('rejects an inserted row that does not link to the stored previous entry (a fork)', async () => {
    const { url, admin } = await freshDb();
    const { entries } = ledgerWith('a', 2);
    await sink(url).deliver(entries.slice(0, 1));
    const e = entries[1]!;
    const insert = 'INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) VALUES ($1, $2, $3, $4, $5)';
    await expect(admin.query(insert, ['a', 2, 'f'.repeat(64), e.hash, '{}'])).rejects.toMatchObject({ code: 'FGF01' });
    await expect(admin.query(insert, ['a', 1, 'f'.repeat(64), e.hash, '{}'])).rejects.toMatchObject({ code: 'FGF01' });
    await expect(admin.query(insert, ['b', 1, '0'.repeat(64), e.hash, '{}']).then(() => admin.query(insert, ['b', 3, e.hash, e.hash, '{}']))).rejects.toMatchObject({ code: 'FGG01' });
  });

  it('gives flaggate_writer INSERT and SELECT only', async () => {
    const { url, admin } = await freshDb();
    const writerUrl = await registerWriter(url, 'w');
    const { entries } = ledgerWith('w', 2);
    expect(await sink(writerUrl, { production: true }).deliver(entries)).toBe(2);
    const writer = new pg.Client({ connectionString: writerUrl });
    await writer.connect();
    cleanups.push(() => writer.end());
    await expect(writer.query("UPDATE flaggate.audit_entries SET body = '{}'")).rejects.toMatchObject({ code: '42501' });
    await expect(writer.query('DELETE FROM flaggate.audit_entries')).rejects.toMatchObject({ code: '42501' });
    await expect(writer.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER')).rejects.toMatchObject({ code: '42501' });
    expect(await count(admin, 'w')).toBe(2);
  });
});

describe('one writer per chain', () => {
  const insertEntry = 'INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) VALUES ($1, $2, $3, $4, $5)';
  const insertCheckpoint = "INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws) VALUES ($1, $2, $3, 'now', 'kid-a', 'x.y.z')";

  it("refuses at the database sidecar A's role writing chain B: entries and checkpoints (row-level security)", async () => {
    const { url, admin } = await freshDb();
    const [asA, asB] = [await registerWriter(url, 'eu-west'), await registerWriter(url, 'us-east')];
    const b = ledgerWith('us-east', 3).entries;
    expect(await sink(asB, { production: true }).deliver(b.slice(0, 2))).toBe(2);

    const a = new pg.Client({ connectionString: asA });
    await a.connect();
    cleanups.push(() => a.end());
    // B's true next entry, correctly linked: the link trigger would take it, the policy does not.
    const next = b[2]!;
    const { hash: _hash, ...body } = next;
    await expect(a.query(insertEntry, ['us-east', 3, next.prev_hash, next.hash, JSON.stringify(body)])).rejects.toMatchObject({
      code: '42501',
      message: expect.stringContaining('row-level security'),
    });
    await expect(a.query(insertEntry, ['brand-new', 1, '0'.repeat(64), next.hash, '{}'])).rejects.toMatchObject({ code: '42501' });
    await expect(a.query(insertCheckpoint, ['us-east', 3, next.hash])).rejects.toMatchObject({ code: '42501' });
    // The sink run under A's login says what is wrong before it tries.
    await expect(sink(asA).deliver([next])).rejects.toMatchObject({ code: 'REPLICATE_ROLE_UNREGISTERED', details: { role: 'fg_eu_west', chainId: 'us-east' } });
    expect(await count(admin, 'us-east')).toBe(2);
    // A's own chain is still A's to write, and each row records its writer.
    expect(await sink(asA).deliver(ledgerWith('eu-west', 1).entries)).toBe(1);
    const writers = await admin.query<{ chain_id: string; written_by: string }>('SELECT DISTINCT chain_id, written_by FROM flaggate.audit_entries ORDER BY chain_id');
    expect(writers.rows).toEqual([{ chain_id: 'eu-west', written_by: 'fg_eu_west' }, { chain_id: 'us-east', written_by: 'fg_us_east' }]);
  });

  it('refuses a privileged login in production mode, at the sink and at start-up, and takes a registered writer', async () => {
    const { url } = await freshDb();
    const writerUrl = await registerWriter(url, 'prod-1');
    await expect(checkWriterLogin(url, 'prod-1', true)).rejects.toMatchObject({ code: 'REPLICATE_ROLE_PRIVILEGED', details: { role: 'postgres', privileged: expect.arrayContaining(['superuser', 'owner']) } });
    await expect(checkWriterLogin(writerUrl, 'prod-1', true)).resolves.toMatchObject({ role: 'fg_prod_1', privileged: [], chains: ['prod-1'] });
    // Development keeps working as the owner.
    await expect(checkWriterLogin(url, 'prod-1', false)).resolves.toMatchObject({ privileged: expect.arrayContaining(['superuser']) });
    await expect(sink(url, { production: true }).deliver(ledgerWith('prod-1', 1).entries)).rejects.toMatchObject({ code: 'REPLICATE_ROLE_PRIVILEGED' });

    const tmp = makeTempDir();
    cleanups.push(() => tmp.cleanup());
    const config = loadConfig({
      env: {},
      overrides: {
        mode: 'production', dataDir: tmp.dir, proxyPort: 0, controlPort: 0,
        'identity.devIssuer': false, 'identity.jwksFile': `${tmp.dir}/jwks.json`, 'audit.chainId': 'prod-1',
        'replicate.sinks': [{ type: 'postgres', url }],
      },
    });
    await expect(startFlaggate(config, { logger: createLogger({ level: 'silent' }) })).rejects.toMatchObject({ code: 'REPLICATE_ROLE_PRIVILEGED' });
  });

  it('refuses migrate on a sidecar in production mode, and an unmigrated database with a code', async () => {
    expect(() => loadConfig({ env: { FLAGGATE_MODE: 'production', FLAGGATE_OIDC_JWKS_URL: 'https://idp.example/jwks' }, overrides: { 'replicate.sinks': [{ type: 'postgres', url: 'postgres://a@b/c', migrate: true }] } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('replicate.sinks.0.migrate') }),
    );
    dbCount += 1;
    const bare = await cluster.createDatabase(`bare_${dbCount}`);
    await expect(checkWriterLogin(bare, 'x', false)).rejects.toMatchObject({ code: 'REPLICATE_ROLE_UNREGISTERED', message: expect.stringContaining('flaggate db migrate') });
  });
});

describe('flaggate db migrate and db grant', () => {
  it('migrates as the owner, then registers a plain role per chain, refusing a privileged role and a silent reassignment', async () => {
    dbCount += 1;
    const url = await cluster.createDatabase(`admin_${dbCount}`);
    expect(await runCli(['db', 'migrate', '--postgres', url])).toMatchObject({ code: 0, stdout: 'migrated\n' });
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    cleanups.push(() => admin.end());
    await admin.query(`DO $$ BEGIN CREATE ROLE grant_a LOGIN; CREATE ROLE grant_b LOGIN; CREATE ROLE grant_bypass LOGIN BYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
    const granted = await runCli(['db', 'grant', '--postgres', url, '--chain', 'eu-west', '--role', 'grant_a']);
    expect(granted.code, granted.stderr).toBe(0);
    expect(JSON.parse(granted.stdout)).toEqual({ chainId: 'eu-west', role: 'grant_a', previous: null });

    await expect(grantChainWriter(url, { chainId: 'us-east', role: 'postgres' })).rejects.toMatchObject({ code: 'REPLICATE_ROLE_PRIVILEGED' });
    await expect(grantChainWriter(url, { chainId: 'us-east', role: 'grant_bypass' })).rejects.toMatchObject({ code: 'REPLICATE_ROLE_PRIVILEGED', details: { privileged: ['bypassrls'] } });
    await expect(grantChainWriter(url, { chainId: 'us-east', role: 'nobody_here' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
    await expect(grantChainWriter(url, { chainId: 'eu-west', role: 'grant_b' })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('--reassign') });
    expect(await grantChainWriter(url, { chainId: 'eu-west', role: 'grant_b', reassign: true })).toEqual({ chainId: 'eu-west', role: 'grant_b', previous: 'grant_a' });
    expect((await admin.query('SELECT chain_id, role_name FROM flaggate.chain_writers')).rows).toEqual([{ chain_id: 'eu-west', role_name: 'grant_b' }]);
    const member = await admin.query<{ m: boolean }>("SELECT pg_has_role('grant_b', 'flaggate_writer', 'MEMBER') AS m");
    expect(member.rows[0]!.m).toBe(true);
  });
});

describe('createPostgresSink', () => {
  it('stores each entry once, byte for byte, when batches are re-sent and overlap', async () => {
    const { url, admin } = await freshDb();
    const { ledger, entries } = ledgerWith('chain-a', 5);
    const s = sink(url);
    expect(await s.deliver(entries.slice(0, 3))).toBe(3);
    expect(await s.deliver(entries.slice(0, 3))).toBe(3);
    expect(await s.deliver(entries.slice(1))).toBe(5);
    expect(await count(admin, 'chain-a')).toBe(5);
    const reader = openPostgresReader(url);
    cleanups.push(() => reader.close());
    expect(await reader.reader('chain-a')(0, 100)).toEqual(ledger.rowsAfter(0, 100));
    expect(await s.head('chain-a')).toEqual({ seq: 5, hash: entries[4]!.hash });
  });

  it('rejects with AUDIT_CHAIN_BROKEN when an entry re-sent under a stored seq has another hash', async () => {
    const { url, admin } = await freshDb();
    const s = sink(url);
    await s.deliver(ledgerWith('same', 3).entries);
    const other = ledgerWith('same', 4).entries.map((e) => ({ ...e, reason: 'rewritten' }));
    await expect(s.deliver(other)).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { chainId: 'same', seq: 1 } });
    expect(await count(admin, 'same')).toBe(3);
  });

  it('rejects with AUDIT_CHAIN_BROKEN when a new entry forks the stored chain', async () => {
    const { url } = await freshDb();
    const s = sink(url);
    const first = ledgerWith('fork', 2).entries;
    await s.deliver(first);
    // Another ledger under the same chain id: seq 3 links to its own seq 2, not the stored one.
    const second = ledgerWith('fork', 3).entries;
    await expect(s.deliver(second.slice(2))).rejects.toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { chainId: 'fork', seq: 3 } });
  });

  it('answers with what it holds when a batch starts past its head, and the replicator resends from there', async () => {
    const { url, admin } = await freshDb();
    const { ledger, entries } = ledgerWith('gap', 6);
    const s = sink(url);
    expect(await s.deliver(entries.slice(3))).toBe(0);
    ledger.setSinkCursor('postgres', 3); // a cursor ahead of what upstream holds (restored from a backup)
    const replicator = createReplicator({ source: ledger, sinks: [s], metrics: createMetrics() });
    await replicator.through(6);
    expect(await count(admin, 'gap')).toBe(6);
  });
});

describe('verifyPostgresLedger', () => {
  it('verifies every chain, and reports the one whose stored row was edited', async () => {
    const { url, admin } = await freshDb();
    const s = sink(url);
    for (const chain of ['east', 'west', 'north']) await s.deliver(ledgerWith(chain, 4).entries);
    const good = await verifyPostgresLedger(url);
    expect(good.ok).toBe(true);
    expect(good.chains.map((c) => [c.chainId, c.entries])).toEqual([['east', 4], ['north', 4], ['west', 4]]);

    await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
    await admin.query(`UPDATE flaggate.audit_entries SET body = replace(body, 'change 2', 'change X') WHERE chain_id = 'west' AND seq = 2`);
    await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER USER');
    const bad = await verifyPostgresLedger(url);
    expect(bad.ok).toBe(false);
    expect(bad.chains.find((c) => c.chainId === 'west')!.failure).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', seq: 2 });
    expect(bad.chains.filter((c) => c.ok).map((c) => c.chainId)).toEqual(['east', 'north']);
  });

  it('proves seq ranges in worker threads over their own connections and reports what the one-thread check reports, an edited and a lost row included', async () => {
    const { url, admin } = await freshDb();
    const s = sink(url);
    for (const chain of ['east', 'west']) await s.deliver(ledgerWith(chain, 40).entries);
    const inWorkers = { workers: 3, minRowsPerWorker: 1 };
    const oneThread = { workers: 1, minRowsPerWorker: 1_000_000 };
    const both = async () => {
      const [parallel, single] = [await verifyPostgresLedger(url, undefined, inWorkers), await verifyPostgresLedger(url, undefined, oneThread)];
      expect(parallel).toEqual(single);
      return parallel;
    };
    expect((await both()).chains.map((c) => [c.chainId, c.ok, c.entries, c.head.seq])).toEqual([['east', true, 40, 40], ['west', true, 40, 40]]);

    const edit = async (sql: string) => {
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await admin.query(sql);
      await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER USER');
    };
    // Inside the second worker's range (14..27), then a row lost in the third's (28..40).
    await edit(`UPDATE flaggate.audit_entries SET body = replace(body, 'change 20', 'change X') WHERE chain_id = 'east' AND seq = 20`);
    expect((await both()).chains[0]!.failure).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', seq: 20 });
    await edit(`DELETE FROM flaggate.audit_entries WHERE chain_id = 'west' AND seq = 33`);
    const lost = await both();
    expect(lost.chains[1]).toMatchObject({ chainId: 'west', ok: false, failure: { seq: 33 } });

    // What one worker proves on its own: up to the row before the first it cannot prove.
    const worker = (chain: string, from: number, to: number) =>
      proveInWorker('prove-postgres-worker', { url, chain, from, to, chainId: chain, trusted: [] });
    expect(await worker('west', 1, 30)).toMatchObject({ from: 1, head: { seq: 30 }, chainId: 'west' });
    expect(await worker('west', 30, 40)).toMatchObject({ from: 30, head: { seq: 32 } });
    expect(await worker('east', 15, 25)).toMatchObject({ from: 15, head: { seq: 19 } });
    expect(await worker('east', 20, 25)).toBeUndefined();
  });

  // The walk reads by seq > cursor: a row below seq 1, or a second row of a seq (with the table's
  // constraints dropped by whoever owns it), is never read. Each is counted against the chain, in
  // worker threads and on one thread alike.
  it('fails a chain whose table holds a row below seq 1 or a seq twice', async () => {
    const { url, admin } = await freshDb();
    await sink(url).deliver(ledgerWith('east', 40).entries);
    await admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT IF EXISTS audit_entries_seq_check');
    await admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT IF EXISTS audit_entries_pkey CASCADE');
    await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
    const copyOf = (seq: number) =>
      admin.query(`INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) SELECT chain_id, $1, prev_hash, hash, replace(body, 'change', 'forged') FROM flaggate.audit_entries WHERE chain_id = 'east' AND seq = 5`, [seq]);
    const verdicts = async () => [await verifyPostgresLedger(url, undefined, { workers: 3, minRowsPerWorker: 1 }), await verifyPostgresLedger(url, undefined, { workers: 1, minRowsPerWorker: 1_000_000 })];
    await copyOf(0);
    for (const v of await verdicts()) expect(v.chains[0]).toMatchObject({ ok: false, failure: { kind: 'inserted', seq: 0 } });
    await admin.query("DELETE FROM flaggate.audit_entries WHERE chain_id = 'east' AND seq = 0");
    await copyOf(5);
    for (const v of await verdicts()) expect(v.chains[0]).toMatchObject({ ok: false, failure: { kind: expect.stringMatching(/inserted|reordered|modified/) } });
  });

  // The census trusts the table's key only when it holds exactly: with it, rows below seq 1 are
  // still counted; with a key that leaves room for a seq held twice, every row is counted.
  it('counts rows below seq 1 under the key, and every row under anything less than the key', async () => {
    const verdicts = async (url: string) => [await verifyPostgresLedger(url, undefined, { workers: 3, minRowsPerWorker: 1 }), await verifyPostgresLedger(url, undefined, { workers: 1, minRowsPerWorker: 1_000_000 })];
    const forge = (admin: pg.Client, seq: number, table = 'flaggate.audit_entries') =>
      admin.query(`INSERT INTO ${table} (chain_id, seq, prev_hash, hash, body) SELECT chain_id, $1, prev_hash, hash, replace(body, 'change', 'forged') FROM flaggate.audit_entries WHERE chain_id = 'east' AND seq = 5`, [seq]);

    const keyed = await freshDb();
    await sink(keyed.url).deliver(ledgerWith('east', 40).entries);
    await keyed.admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT IF EXISTS audit_entries_seq_check');
    await keyed.admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
    await forge(keyed.admin, -3);
    for (const v of await verdicts(keyed.url)) expect(v.chains[0]).toMatchObject({ ok: false, failure: { kind: 'inserted', seq: -3 } });

    const loosened: Array<[string, string[]]> = [
      ['a unique index that leaves seq 5 out', ['CREATE UNIQUE INDEX loose ON flaggate.audit_entries (chain_id, seq) WHERE seq <> 5']],
      ['a unique index on the seq and the body', ['CREATE UNIQUE INDEX loose ON flaggate.audit_entries (chain_id, seq, body)']],
      ['an index that is not unique', ['CREATE INDEX loose ON flaggate.audit_entries (chain_id, seq)']],
    ];
    for (const [what, sql] of loosened) {
      const { url, admin } = await freshDb();
      await sink(url).deliver(ledgerWith('east', 40).entries);
      await admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT IF EXISTS audit_entries_pkey CASCADE');
      for (const s of sql) await admin.query(s);
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await forge(admin, 5);
      for (const v of await verdicts(url)) expect(v.chains[0], what).toMatchObject({ ok: false, failure: { kind: expect.stringMatching(/inserted|reordered|modified/) } });
    }

    // The key holds bytes apart, while the walk's `chain_id = 'east'` reads 'EAST' too (a collation that ignores case).
    // A thousand rows, so that the one-thread walk's first batch ends at seq 1,000, the seq held twice.
    const folded = await freshDb();
    const many = ledgerWith('east', 1_010).entries;
    for (let i = 0; i < many.length; i += 500) await sink(folded.url).deliver(many.slice(i, i + 500));
    await folded.admin.query("CREATE COLLATION flaggate.ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)");
    for (const { policyname } of (await folded.admin.query<{ policyname: string }>("SELECT policyname FROM pg_policies WHERE schemaname = 'flaggate' AND tablename = 'audit_entries'")).rows) {
      await folded.admin.query(`DROP POLICY ${policyname} ON flaggate.audit_entries`);
    }
    await folded.admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT audit_entries_pkey CASCADE');
    await folded.admin.query('ALTER TABLE flaggate.audit_entries DROP CONSTRAINT audit_entries_chain_id_check');
    await folded.admin.query('ALTER TABLE flaggate.audit_entries ALTER COLUMN chain_id TYPE text COLLATE flaggate.ci');
    await folded.admin.query('CREATE UNIQUE INDEX bytes_apart ON flaggate.audit_entries (chain_id COLLATE "C", seq)');
    await folded.admin.query('CREATE INDEX walked ON flaggate.audit_entries (chain_id, seq)');
    await folded.admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
    await folded.admin.query(`INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) SELECT 'EAST', seq, prev_hash, hash, replace(body, 'change', 'forged') FROM flaggate.audit_entries WHERE chain_id = 'east' AND seq = 1000`);
    await folded.admin.query('ANALYZE flaggate.audit_entries');
    for (const v of await verdicts(folded.url)) expect(v.chains[0]).toMatchObject({ ok: false, failure: { kind: expect.stringMatching(/inserted|reordered|modified/) } });

    // The key stays, but a table inheriting from the ledger's is read with it and outside its key.
    const inherited = await freshDb();
    await sink(inherited.url).deliver(ledgerWith('east', 40).entries);
    await inherited.admin.query('CREATE TABLE flaggate.audit_extra () INHERITS (flaggate.audit_entries)');
    await forge(inherited.admin, 5, 'flaggate.audit_extra');
    for (const v of await verdicts(inherited.url)) expect(v.chains[0]).toMatchObject({ ok: false, failure: { kind: expect.stringMatching(/inserted|reordered|modified/) } });
  });

  it('reads rows by binary COPY as SELECT returns them, across pages of 2,000 seqs, and stops at a row it cannot prove at a page start', async () => {
    const { url, admin } = await freshDb();
    const s = sink(url);
    const { entries } = ledgerWith('paged', 4_100);
    for (let i = 0; i < entries.length; i += 500) await s.deliver(entries.slice(i, i + 500));
    const columns = 'seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries';
    const selected = (await admin.query<StoredRow & { seq: string }>(`SELECT ${columns} ORDER BY seq`)).rows.map((r) => ({ ...r, seq: Number(r.seq) }));
    const copied: Array<Omit<StoredRow, 'body'>> = [];
    const bodyBytes: Buffer[] = [];
    const end = await readCopyRows(admin.query(copyTo(`COPY (SELECT ${columns} ORDER BY seq) TO STDOUT (FORMAT binary)`)), ({ bodyUtf8, ...row }) => {
      bodyBytes.push(Buffer.from(bodyUtf8!));
      return copied.push(row) > 0;
    });
    expect(end).toBe('ended');
    expect(copied).toEqual(selected.map(({ body: _body, ...columns }) => columns));
    // Each body comes as its bytes, as PostgreSQL sent them: its UTF-8.
    expect(bodyBytes.every((b, i) => b.equals(Buffer.from(selected[i]!.body, 'utf8')))).toBe(true);
    expect(bodyBytes[1]!.toString('utf8')).toContain('é 2');

    // The chain is a quoted literal in the COPY statement: one that would close the quote is only a name.
    const injected = "paged' AND false) TO STDOUT; CREATE TABLE flaggate.injected (); COPY (SELECT * FROM (SELECT 1 AS seq) s WHERE 'a'='a";
    expect(await proveInWorker('prove-postgres-worker', { url, chain: injected, from: 1, to: 10, chainId: 'paged', trusted: [] })).toBeUndefined();
    expect((await admin.query("SELECT to_regclass('flaggate.injected') AS t")).rows[0].t).toBeNull();
    // The ranges cross two page boundaries.
    const worker = (from: number, to: number) => proveInWorker('prove-postgres-worker', { url, chain: 'paged', from, to, chainId: 'paged', trusted: [], pageSeqs: 2_000 });
    expect(await worker(1, 4_100)).toMatchObject({ from: 1, head: { seq: 4_100 } });
    expect(await worker(1_990, 4_100)).toMatchObject({ from: 1_990, head: { seq: 4_100 } });
    await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
    await admin.query(`UPDATE flaggate.audit_entries SET body = replace(body, 'change 2001', 'change X') WHERE seq = 2001`);
    expect(await worker(1, 4_100)).toMatchObject({ from: 1, head: { seq: 2_000 } });
    expect(await worker(2_001, 4_100)).toBeUndefined();
    await admin.query('DELETE FROM flaggate.audit_entries WHERE seq > 2000');
    expect(await worker(1, 4_100)).toMatchObject({ head: { seq: 2_000 } });
    expect(await worker(Number.MAX_SAFE_INTEGER + 1, 4_100)).toBeUndefined();
  });
});

describe('compareWithUpstream', () => {
  it('reports a local chain cut below the upstream head, and one forked at it', async () => {
    const { url } = await freshDb();
    const s = sink(url);
    await s.deliver(ledgerWith('c', 4).entries);
    const cut = ledgerWith('c', 2).ledger;
    const forked = ledgerWith('c', 5).ledger;
    const caughtUp = ledgerWith('c', 0).ledger;
    const check = (l: Ledger) => compareWithUpstream({ sinks: [s], chainId: 'c', localHead: l.head, rowsAfter: l.rowsAfter });
    expect(await check(cut)).toMatchObject([{ sink: 'postgres', ok: false, kind: 'cut', local: { seq: 2 }, upstream: { seq: 4 } }]);
    expect(await check(forked)).toMatchObject([{ ok: false, kind: 'forked' }]);
    await s.deliver(ledgerWith('d', 2).entries);
    expect(await compareWithUpstream({ sinks: [s], chainId: 'new', localHead: caughtUp.head, rowsAfter: caughtUp.rowsAfter })).toMatchObject([{ ok: true, upstream: null }]);
  });
});
