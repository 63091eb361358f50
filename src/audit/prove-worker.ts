import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { StoredRow } from './entry.js';
import type { RangeJob, RangeReply } from './prove-in-workers.js';
import { createRangeProver } from './prove-range.js';

type RawRow = [StoredRow['seq'], StoredRow['chain_id'], StoredRow['prev_hash'], StoredRow['hash'], Buffer | null];

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
      // Pages read straight from the mapped file, not copied in by a read() per page: about 7% of a
      // row's cost here. The ledger file never shrinks (append-only, no VACUUM), which is what makes
      // a mapping unsafe; the WAL is still read as usual.
      db.pragma(`mmap_size = ${MMAP_BYTES}`);
      // Rows as arrays, each made into a row object here: about 7% less per row than better-sqlite3
      // building the objects itself. A text body is read as its bytes, scanned and hashed as stored
      // (a body of another type, possible only in a table rebuilt without STRICT, is NULL here, which the prover refuses).
      const rows = db
        .prepare<[number, number], RawRow>(
          "SELECT seq, chain_id, prev_hash, hash, CASE WHEN typeof(body) = 'text' THEN CAST(body AS BLOB) END FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq",
        )
        .raw(true)
        .iterate(job.from, job.to) as IterableIterator<RawRow>;
      const prover = createRangeProver({ from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) });
      for (const [seq, chain_id, prev_hash, hash, bodyUtf8] of rows) if (!prover.add({ seq, chain_id, prev_hash, hash, bodyUtf8 })) break;
      return { ok: true, proof: prover.proof() };
    } finally {
      db.close();
    }
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  }
}

parentPort?.postMessage(run(workerData as RangeJob));
