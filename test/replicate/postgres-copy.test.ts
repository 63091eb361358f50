/**
 * The PostgreSQL copy of a chain: what a required sink acknowledges is on PostgreSQL's disk,
 * whatever the database's own settings say (a cluster with fsync on, a database tuned to
 * `synchronous_commit = off`, a WAL writer that flushes every 10 s); and `verify --db` against it
 * finds a hole its owner made behind the table's triggers.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { createPostgresSink, createReplicator } from '../../src/replicate/index.js';
import { verifyLedgerFile } from '../../src/verify-ledger-file.js';
import { sampleEntry } from '../support/entries.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

let cluster: PgCluster;
let db: LedgerDatabase;
const tmp = makeTempDir('flaggate-pg-durable-ack-');

async function query<R extends pg.QueryResultRow>(url: string, sql: string): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  cluster = await startPostgres({ durable: true });
  db = await createLedgerDatabase(cluster, 'tuned');
  await db.writerUrl('tuned-chain');
  // What a database tuned for throughput looks like: commits answered before their WAL is flushed.
  await query(db.ownerUrl, 'ALTER DATABASE tuned SET synchronous_commit = off');
  await query(cluster.url(), "ALTER SYSTEM SET wal_writer_delay = '10s'");
  await query(cluster.url(), 'SELECT pg_reload_conf()');
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  tmp.cleanup();
});

describe('a required PostgreSQL sink on a database set to synchronous_commit = off', () => {
  // Each acknowledged delivery waited for its WAL flush: PostgreSQL's own count of WAL fsyncs rises
  // with each, while the WAL writer sleeps 10 s (a crash of PostgreSQL then would lose an entry a
  // forwarded change stands on, unless the WAL happened to be written out).
  it('waits for the WAL flush of every delivery it acknowledges', async () => {
    const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'tuned-chain', clock: fixedClock(Date.UTC(2026, 5, 1)) });
    try {
      const replicator = createReplicator({ source: ledger, sinks: [createPostgresSink({ name: 'postgres', url: await db.writerUrl('tuned-chain'), required: true })], metrics: createMetrics() });
      ledger.append(sampleEntry(1));
      await replicator.through(1); // connected, its login checked
      const [before] = await query<{ syncs: string }>(cluster.url(), 'SELECT wal_sync AS syncs FROM pg_stat_wal');
      for (let n = 2; n <= 6; n += 1) {
        ledger.append(sampleEntry(n));
        await replicator.through(n); // here a change would be forwarded
      }
      await replicator.close(); // its sessions end, and report their WAL statistics
      await new Promise((r) => setTimeout(r, 200));
      const [after] = await query<{ syncs: string }>(cluster.url(), 'SELECT wal_sync AS syncs FROM pg_stat_wal');
      expect(Number(after!.syncs) - Number(before!.syncs)).toBeGreaterThanOrEqual(5);
    } finally {
      ledger.close();
    }
  }, 120_000);
});

describe('verify --db against a PostgreSQL copy', () => {
  it('fails on a hole between rows the copy holds, though its head agrees', async () => {
    await db.writerUrl('holed-chain');
    const path = `${tmp.dir}/holed.sqlite`;
    const ledger = openLedger({ path, chainId: 'holed-chain', clock: fixedClock(Date.UTC(2026, 5, 1)) });
    const replicator = createReplicator({ source: ledger, sinks: [createPostgresSink({ name: 'postgres', url: await db.writerUrl('holed-chain'), required: true })], metrics: createMetrics() });
    for (let n = 1; n <= 5; n += 1) ledger.append(sampleEntry(n));
    await replicator.through(5);
    const check = () => verifyLedgerFile({ db: path, upstreams: [db.ownerUrl], maxDelaySeconds: 3600, skewSeconds: 300 });
    expect((await check()).upstream).toMatchObject([{ sink: 'postgres', ok: true }]);
    // The owner deletes seq 3 behind the triggers; the sink, reading its head as the highest seq, goes on.
    await query(db.ownerUrl, "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM flaggate.audit_entries WHERE chain_id = 'holed-chain' AND seq = 3; COMMIT");
    for (let n = 6; n <= 8; n += 1) ledger.append(sampleEntry(n));
    await replicator.through(8);
    await replicator.close();
    ledger.close();
    const report = await check();
    expect(report.upstream).toMatchObject([{ sink: 'postgres', ok: false, kind: 'gap', at: 3 }]);
    expect(report).toMatchObject({ ok: false, failure: { kind: 'deleted', seq: 3 } });
  }, 120_000);

  it('fails on a copy whose first rows were deleted, and walks each of several copies on its own', async () => {
    const second = await createLedgerDatabase(cluster, 'second');
    const urls = [await db.writerUrl('front-chain'), await second.writerUrl('front-chain')];
    const path = `${tmp.dir}/front.sqlite`;
    const ledger = openLedger({ path, chainId: 'front-chain', clock: fixedClock(Date.UTC(2026, 5, 1)) });
    const replicator = createReplicator({ source: ledger, sinks: urls.map((url, i) => createPostgresSink({ name: `postgres-${i}`, url, required: true })), metrics: createMetrics() });
    for (let n = 1; n <= 4; n += 1) ledger.append(sampleEntry(n));
    await replicator.through(4);
    await replicator.close();
    ledger.close();
    await query(db.ownerUrl, "BEGIN; SET LOCAL session_replication_role = replica; DELETE FROM flaggate.audit_entries WHERE chain_id = 'front-chain' AND seq <= 2; COMMIT");
    const check = (upstreams: string[]) => verifyLedgerFile({ db: path, upstreams, maxDelaySeconds: 3600, skewSeconds: 300 });
    expect((await check([db.ownerUrl])).upstream).toMatchObject([{ sink: 'postgres', ok: false, kind: 'gap', at: 1 }]);
    // Named after the intact copy, the holed one is still walked, under its own name.
    expect((await check([second.ownerUrl, db.ownerUrl])).upstream).toMatchObject([
      { sink: 'postgres', ok: true },
      { sink: 'postgres#2', ok: false, kind: 'gap', at: 1 },
    ]);
  }, 120_000);
});
