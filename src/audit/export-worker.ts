import { createWriteStream, readdirSync, rmSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { createGzip } from 'node:zlib';
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
async function run(task: ExportWorkerTask): Promise<ExportWorkerReply> {
  try {
    if (task.task === 'archive') {
      // Streamed with backpressure: tar's own sync gzip path buffered the whole archive.
      await pipeline(createTar({ cwd: task.dir, portable: true, jobs: 1, maxReadSize: 1 << 20 }, readdirSync(task.dir).sort()), createGzip(), createWriteStream(task.out, { mode: 0o600 }));
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

parentPort?.postMessage(await run(workerData as ExportWorkerTask));
