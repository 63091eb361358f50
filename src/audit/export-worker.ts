import { readdirSync, rmSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { create as createTar } from 'tar';
import { FlaggateError } from '../errors.js';
import { writeExportFiles } from './export.js';
import type { ExportWorkerReply, ExportWorkerTask } from './export-in-worker.js';
import { openLedgerReader } from './sqlite-reader.js';

/**
 * Worker thread entry, so parsing, hashing and compressing a large ledger never holds the server's
 * event loop. `files`: writes an export package's data files from its own read-only connection to
 * the ledger file. `archive`: packs a signed package folder into one tar.gz and removes the folder.
 */
function run(task: ExportWorkerTask): ExportWorkerReply {
  try {
    if (task.task === 'archive') {
      createTar({ gzip: true, file: task.out, cwd: task.dir, portable: true, sync: true }, readdirSync(task.dir).sort());
      rmSync(task.dir, { recursive: true, force: true });
      return { ok: true };
    }
    const { job } = task;
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
    } finally {
      reader.close();
    }
  } catch (err) {
    if (err instanceof FlaggateError) return { ok: false, code: err.code, message: err.message, details: err.details };
    return { ok: false, message: (err as Error).message ?? String(err), stack: (err as Error).stack };
  }
}

parentPort?.postMessage(run(workerData as ExportWorkerTask));
