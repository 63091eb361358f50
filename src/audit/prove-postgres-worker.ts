import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { parentPort, workerData } from 'node:worker_threads';
// Only the modules it needs: the stage's index loads every module (schemas, keys, exports),
// startup time each worker would pay before its first row.
import { readCopyRows } from './copy-binary-rows.js';
import type { RangeJob, RangeReply } from './prove-in-workers.js';
import { createRangeProver } from './prove-range.js';

export type PostgresRangeJob = RangeJob<{ url: string; chain: string }>;

/**
 * Seqs per page. A page is a seq range, not a LIMIT: with statistics that lag a bulk load, PostgreSQL
 * plans `seq > $n ... LIMIT` over a bounded range as a bitmap scan of the whole rest of the range and
 * a sort, every page (measured: 64 ms a page instead of 0.6); a range of 50,000 seqs is planned as a
 * sequential scan and a sort even with fresh statistics. 2,000 is an index scan, and a COPY
 * statement a page costs about 5% more than one for the whole range.
 */
const PAGE_SEQS = 2_000;

/**
 * Worker thread entry: proves one seq range of one chain in the central PostgreSQL ledger (the
 * replicated copy, `flaggate.audit_entries`) over its own read connection, a page of rows at a
 * time, each page read with binary COPY (the rows' fields without a protocol message each), and
 * answers with the proof, or with nothing.
 */
async function run(job: PostgresRangeJob): Promise<RangeReply> {
  if (!Number.isSafeInteger(job.from) || !Number.isSafeInteger(job.to)) return { ok: false, message: 'a seq range of integers is required' };
  const client = new pg.Client({ connectionString: job.url, connectionTimeoutMillis: 10_000, query_timeout: 60_000 });
  try {
    await client.connect();
    // Each page in seq order straight off the (chain_id, seq) index: a bitmap scan, which stale
    // statistics after a bulk load favour, visits the same rows and then sorts them.
    await client.query('SET enable_bitmapscan = off');
    const prover = createRangeProver({ from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) });
    const chain = client.escapeLiteral(job.chain);
    let going = true;
    for (let after = job.from - 1; going && after < job.to; after += PAGE_SEQS) {
      const through = Math.min(job.to, after + PAGE_SEQS);
      // COPY takes no parameters: the chain is a quoted literal, the bounds integers.
      const page = client.query(copyTo(`COPY (SELECT seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries WHERE chain_id = ${chain} AND seq > ${after} AND seq <= ${through} ORDER BY seq) TO STDOUT (FORMAT binary)`));
      // A seq missing from the page fails the prover's link check; an empty page ends the proof there.
      let rows = 0;
      const end = await readCopyRows(page, (row) => (rows++, (going = prover.add(row))));
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
