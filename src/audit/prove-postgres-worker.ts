import pg from 'pg';
import { parentPort, workerData } from 'node:worker_threads';
// Only the modules it needs: the stage's index loads every module (schemas, keys, exports),
// startup time each worker would pay before its first row.
import type { StoredRow } from './entry.js';
import type { RangeJob, RangeReply } from './prove-in-workers.js';
import { createRangeProver } from './prove-range.js';

export type PostgresRangeJob = RangeJob<{ url: string; chain: string }>;

/**
 * Seqs per page. A page is a seq range, not a LIMIT: with statistics that lag a bulk load, PostgreSQL
 * plans `seq > $n ... LIMIT` over a bounded range as a bitmap scan of the whole rest of the range and
 * a sort, every page (measured: 64 ms a page instead of 0.6).
 */
const PAGE_SEQS = 1_000;

/**
 * Worker thread entry: proves one seq range of one chain in the central PostgreSQL ledger (the
 * replicated copy, `flaggate.audit_entries`) over its own read connection, a page of rows at a
 * time, and answers with the proof, or with nothing.
 */
async function run(job: PostgresRangeJob): Promise<RangeReply> {
  const client = new pg.Client({ connectionString: job.url, connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
  try {
    await client.connect();
    const prover = createRangeProver({ from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) });
    let going = true;
    for (let after = job.from - 1; going && after < job.to; after += PAGE_SEQS) {
      const { rows } = await client.query<Omit<StoredRow, 'seq'> & { seq: string }>(
        'SELECT seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries WHERE chain_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq',
        [job.chain, after, Math.min(job.to, after + PAGE_SEQS)],
      );
      // A seq missing from the page fails the prover's link check; an empty page ends the proof there.
      going = rows.length > 0;
      for (const row of rows) if (!(going = prover.add({ ...row, seq: Number(row.seq) }))) break;
    }
    return { ok: true, proof: prover.proof() };
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

parentPort?.postMessage(await run(workerData as PostgresRangeJob));
