import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import type { StoredRow } from './entry.js';
import { proveRows } from './prove-range.js';
import type { RangeJob, RangeReply } from './prove-in-workers.js';

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
      const rows = db
        .prepare<[number, number], StoredRow>('SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq')
        .iterate(job.from, job.to);
      return { ok: true, proof: proveRows(rows, { from: job.from, to: job.to, chainId: job.chainId, trusted: new Map(job.trusted) }) };
    } finally {
      db.close();
    }
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  }
}

parentPort?.postMessage(run(workerData as RangeJob));
