import pg from 'pg';
import { parentPort, workerData } from 'node:worker_threads';
// Only the modules it needs: the stage's index loads every module (schemas, keys, exports),
// startup time each worker would pay before its first row.
import { copyRowsQuery } from './copy-binary-rows.js';
import type { RangeJob, RangeReply } from './prove-in-workers.js';
import { createRangeProver } from './prove-range.js';

/** `pageSeqs`: seqs per COPY statement (default `PAGE_SEQS`; tests use short pages to cross their bounds). */
export type PostgresRangeJob = RangeJob<{ url: string; chain: string; pageSeqs?: number }>;

/**
 * Seqs per page. A page is a seq range, not a LIMIT, read by the (chain_id, seq) index in seq order:
 * the session turns the planner away from bitmap scans, sequential scans and sorts, which it picks
 * for a range like this with statistics that lag a bulk load (measured: 64 ms a page instead of
 * 0.6) and, for 50,000 seqs, even with fresh statistics. Each COPY statement costs a round trip and a
 * stream (2-3 ms): pages of 2,000 seqs cost a worker about 10% more than pages of 20,000 over
 * 100,000 entries, and a page of 20,000 streams in well under a second.
 */
const PAGE_SEQS = 20_000;

/**
 * Worker thread entry: proves one seq range of one chain in the central PostgreSQL ledger (the
 * replicated copy, `flaggate.audit_entries`) over its own read connection, a page of rows at a
 * time, each page read with binary COPY (the rows' fields without a protocol message each), and
 * answers with the proof, or with nothing.
 */
async function run(job: PostgresRangeJob): Promise<RangeReply> {
  if (!Number.isSafeInteger(job.from) || !Number.isSafeInteger(job.to)) return { ok: false, message: 'a seq range of integers is required' };
  const pageSeqs = job.pageSeqs ?? PAGE_SEQS;
  if (!Number.isSafeInteger(pageSeqs) || pageSeqs < 1) return { ok: false, message: 'pageSeqs must be a positive integer' };
  const client = new pg.Client({ connectionString: job.url, connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
  try {
    await client.connect();
    // Each page in seq order straight off the (chain_id, seq) index (PAGE_SEQS). Without the index
    // (a table altered by its owner) the planner still reads the rows, by the plan it has left.
    await client.query('SET enable_bitmapscan = off; SET enable_seqscan = off; SET enable_sort = off');
    const prover = createRangeProver({ from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) });
    const chain = client.escapeLiteral(job.chain);
    let going = true;
    for (let after = job.from - 1; going && after < job.to; after += pageSeqs) {
      const through = Math.min(job.to, after + pageSeqs);
      // COPY takes no parameters: the chain is a quoted literal, the bounds integers.
      // A seq missing from the page fails the prover's link check; an empty page ends the proof there.
      let rows = 0;
      const copy = copyRowsQuery(
        `COPY (SELECT seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries WHERE chain_id = ${chain} AND seq > ${after} AND seq <= ${through} ORDER BY seq) TO STDOUT (FORMAT binary)`,
        (row) => (rows++, (going = prover.add(row))),
      );
      void client.query(copy.query as unknown as pg.Submittable);
      const end = await copy.done;
      going &&= end === 'ended' && rows > 0;
    }
    return { ok: true, proof: prover.proof() };
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

parentPort?.postMessage(await run(workerData as PostgresRangeJob));
