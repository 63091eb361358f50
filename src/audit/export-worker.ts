import { parentPort, workerData } from 'node:worker_threads';
import { FlaggateError } from '../errors.js';
import { writeExportFiles } from './export.js';
import type { ExportJob, ExportWorkerReply } from './export-in-worker.js';
import { openLedgerReader } from './sqlite-reader.js';

/**
 * Worker thread entry: writes an export package's data files from its own read-only connection
 * to the ledger file, so parsing and hashing a large ledger never holds the server's event loop.
 */
function run(job: ExportJob): ExportWorkerReply {
  const reader = openLedgerReader(job.db);
  try {
    const body = writeExportFiles(
      {
        chainId: job.chainId,
        rowsAfter: reader.rowsAfter,
        seqRange: reader.seqRange,
        checkpoints: reader.checkpoints,
        tokensFrom: reader.tokensFrom,
        keys: job.keys,
        trust: job.trust,
      },
      job.dir,
      { ...(job.from ? { from: job.from } : {}), ...(job.to ? { to: job.to } : {}), filters: job.filters, maxBytes: job.maxBytes },
    );
    return { ok: true, body };
  } catch (err) {
    if (err instanceof FlaggateError) return { ok: false, code: err.code, message: err.message, details: err.details };
    return { ok: false, message: (err as Error).message ?? String(err), stack: (err as Error).stack };
  } finally {
    reader.close();
  }
}

parentPort?.postMessage(run(workerData as ExportJob));
