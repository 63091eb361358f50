import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { RangeJob, RangeReply } from './prove-in-workers.js';
import { createRangeProver } from './prove-range.js';
import { readRowPages } from './row-pages.js';
import { requireUtf8 } from '../sqlite-durable.js';

/** As much of the file as SQLite maps (it caps this at its own maximum). */
const MMAP_BYTES = 2 ** 40;

/**
 * Worker thread entry: proves one seq range of a ledger file from its own read-only connection
 * (WAL: the sidecar may keep appending meanwhile) and answers with the proof, or with nothing.
 */
function run(job: RangeJob): RangeReply {
  try {
    const db = new Database(job.db, { readonly: true, fileMustExist: true });
    try {
      // The stored bytes of a body are proven below: in a UTF-16 file they are not its text.
      requireUtf8(db, job.db);
      // Pages read straight from the mapped file, not copied in by a read() per page: about 7% of a
      // row's cost here. The ledger file never shrinks (append-only, no VACUUM), which is what makes
      // a mapping unsafe; the WAL is still read as usual.
      db.pragma(`mmap_size = ${MMAP_BYTES}`);
      const prover = createRangeProver({ from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) });
      // One read transaction over every page: the range is read from one snapshot, as one statement would.
      db.transaction(() => {
        pages: for (const page of readRowPages(db, job.from, job.to)) for (const row of page) if (!prover.add(row)) break pages;
      })();
      return { ok: true, proof: prover.proof() };
    } finally {
      db.close();
    }
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  }
}

parentPort?.postMessage(run(workerData as RangeJob));
