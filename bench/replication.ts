/**
 * Replication on its own (issue 5): how fast a backlog of ledger entries drains into a required
 * PostgreSQL sink through the replicator (`through(head)`), batches of `replicate.batchSize`.
 * Runs in this process against the database URL it is given; the ledger lives in a temp dir.
 */
import { join } from 'node:path';
import pg from 'pg';
import { openLedger } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { createMetrics } from '../src/metrics.js';
import { createPostgresSink, createReplicator } from '../src/replicate/index.js';
import { makeTempDir } from '../test/support/temp-dir.js';
import { buildLedger } from './ledger.js';
import { measureVerifyPostgres, type CopyVerify } from './verify-copies.js';

export interface DrainResult {
  entries: number;
  batchSize: number;
  buildSeconds: number;
  seconds: number;
  /** Rows the upstream table holds for the chain afterwards (must equal `entries`). */
  upstreamRows: number;
  /** `verifyPostgresLedger` over the drained rows, beside the raw chained SHA-256 over the same bytes. */
  verify: CopyVerify;
}

/** Builds an `n`-entry ledger, then times one `through(n)` into an empty PostgreSQL database. */
export async function measureDrain(o: { url: string; n: number; batchSize: number; log: (msg: string) => void }): Promise<DrainResult> {
  const tmp = makeTempDir('flaggate-bench-drain-');
  try {
    const path = join(tmp.dir, 'ledger.sqlite');
    o.log(`replication: building a ${o.n}-entry backlog`);
    const { seconds: buildSeconds } = buildLedger(path, o.n, 'bench-drain');
    const ledger = openLedger({ path, chainId: 'bench-drain', clock: systemClock });
    const sink = createPostgresSink({ name: 'postgres', url: o.url, required: true });
    // Migrate before the clock starts, so the drain is deliveries only.
    await sink.head('bench-drain');
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), batchSize: o.batchSize, maxBacklog: o.n });
    try {
      o.log(`replication: draining ${o.n} entries into PostgreSQL`);
      const t0 = performance.now();
      await replicator.through(o.n);
      const seconds = (performance.now() - t0) / 1000;
      const client = new pg.Client({ connectionString: o.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM flaggate.audit_entries WHERE chain_id = $1', ['bench-drain']);
        const verify = await measureVerifyPostgres({ url: o.url, path, n: o.n, log: o.log });
        return { entries: o.n, batchSize: o.batchSize, buildSeconds, seconds, upstreamRows: Number(rows[0]!.n), verify };
      } finally {
        await client.end();
      }
    } finally {
      await replicator.close();
      ledger.close();
    }
  } finally {
    tmp.cleanup();
  }
}
