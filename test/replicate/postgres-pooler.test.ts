/**
 * The PostgreSQL sink behind PgBouncer in transaction mode, a real one: server sessions change
 * hands between transactions, so a statement one session prepared is unknown to the next, and a
 * name another client prepared there is taken. The sink falls back to unnamed statements.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type AuditEntry } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createPostgresSink, migratePostgres } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { findPgBouncer, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

let cluster: PgCluster | undefined;
let bouncer: PgBouncer | undefined;
const tmp = makeTempDir('flaggate-pooler-');

beforeAll(async () => {
  if (!findPgBouncer()) return;
  cluster = await startPostgres();
  const admin = new pg.Client({ connectionString: await cluster.createDatabase('pooled') });
  await admin.connect();
  await migratePostgres(admin);
  await admin.end();
  bouncer = await startPgBouncer(cluster.port, 'pooled', 2);
}, 120_000);

afterAll(async () => {
  await bouncer?.stop();
  await cluster?.stop();
  tmp.cleanup();
});

function chainOf(chainId: string, n: number): AuditEntry[] {
  const ledger = openLedger({ path: `${tmp.dir}/${chainId}.sqlite`, chainId, clock: fixedClock(1_700_000_000_000) });
  const entries = Array.from({ length: n }, (_, i) => ledger.append(sampleEntry(i + 1)));
  ledger.close();
  return entries;
}

describe.skipIf(!findPgBouncer())('the PostgreSQL sink behind PgBouncer (transaction pooling)', () => {
  it('delivers every entry of two sidecars sharing the pooler, one after the other and at once, and after a restart', async () => {
    const [x, y] = [chainOf('pooled-x', 30), chainOf('pooled-y', 30)];
    const sinks = [createPostgresSink({ name: 'pg', url: bouncer!.url, required: true }), createPostgresSink({ name: 'pg', url: bouncer!.url, required: true })];
    const held = [0, 0];
    const step = async (i: number, chain: AuditEntry[]) => {
      held[i] = await sinks[i]!.deliver([chain[held[i]!]!]);
    };
    for (let k = 0; k < 10; k++) {
      await step(0, x);
      await step(1, y);
    }
    for (let k = 0; k < 10; k++) await Promise.all([step(0, x), step(1, y)]);
    expect(held).toEqual([20, 20]);
    // A restarted sidecar: a new pool, whose sessions the pooler hands out as it likes.
    await sinks[0]!.close();
    sinks[0] = createPostgresSink({ name: 'pg', url: bouncer!.url, required: true });
    for (let k = 0; k < 10; k++) await Promise.all([step(0, x), step(1, y)]);
    expect(held).toEqual([30, 30]);
    await Promise.all(sinks.map((s) => s.close()));
    const reader = new pg.Client({ connectionString: cluster!.url('pooled') });
    await reader.connect();
    const { rows } = await reader.query<{ chain_id: string; n: string }>('SELECT chain_id, count(*) AS n FROM flaggate.audit_entries GROUP BY chain_id ORDER BY chain_id');
    await reader.end();
    expect(rows.map((r) => [r.chain_id, Number(r.n)])).toEqual([['pooled-x', 30], ['pooled-y', 30]]);
  });
});
