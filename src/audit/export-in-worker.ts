import type { Worker } from 'node:worker_threads';
import type { JSONWebKeySet } from 'jose';
import { FlaggateError, type ErrorCode } from '../errors.js';
import type { ExportBody } from './export.js';
import type { ExportFilters } from './export-format.js';
import { startModuleWorker } from './start-worker.js';

/** What the export worker is asked to write: everything it needs is data, it opens the file itself. */
export interface ExportJob {
  /** The ledger file; the worker opens it read-only (WAL: the sidecar keeps writing meanwhile). */
  db: string;
  dir: string;
  chainId: string;
  keys: JSONWebKeySet;
  trust: { trustAnchorsPem: string; untrustedPem: string };
  from?: string;
  to?: string;
  filters: ExportFilters;
  maxBytes: number;
}

export type ExportWorkerTask = { task: 'files'; job: ExportJob } | { task: 'archive'; dir: string; out: string };

export type ExportWorkerReply =
  | { ok: true; body?: ExportBody }
  | { ok: false; code?: ErrorCode; message: string; details?: Record<string, unknown>; stack?: string | undefined };

/** The worker's heap caps: it reads a page at a time, so anything near them is a bug, not a big ledger; a small young generation keeps RSS low. */
const workerHeapMb = 64;

/**
 * Writes an export package's data files in a worker thread and resolves with what the manifest
 * needs. Aborting `signal` (the client went away) terminates the worker; the caller removes `dir`.
 * Rejects with the worker's FlaggateError (AUDIT_EXPORT_TOO_LARGE) or an Error.
 */
export async function writeExportInWorker(job: ExportJob, signal?: AbortSignal): Promise<ExportBody> {
  const { body } = await runWorker({ task: 'files', job }, signal);
  if (!body) throw new TypeError('the export worker answered without the package body');
  return body;
}

/**
 * Packs a signed package folder into `out` (tar.gz) in a worker thread and removes the folder, so
 * the server only has a file to send. Aborting `signal` terminates the worker.
 */
export async function archiveExportInWorker(dir: string, out: string, signal?: AbortSignal): Promise<void> {
  await runWorker({ task: 'archive', dir, out }, signal);
}

function runWorker(task: ExportWorkerTask, signal?: AbortSignal): Promise<{ body?: ExportBody }> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const worker = startWorker(task);
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    // Settles only once the worker has stopped, so the caller can remove `dir` for good.
    const onAbort = () => settle(() => void worker.terminate().finally(() => reject(signal!.reason as Error)));
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.once('message', (reply: ExportWorkerReply) =>
      settle(() => {
        if (reply.ok) return resolve(reply.body ? { body: reply.body } : {});
        if (reply.code) return reject(new FlaggateError(reply.code, reply.message, { details: reply.details ?? {} }));
        const err = new Error(`export worker: ${reply.message}`);
        if (reply.stack) err.stack = reply.stack;
        reject(err);
      }),
    );
    worker.once('error', (err) => settle(() => reject(err)));
    worker.once('exit', (code) => settle(() => reject(new Error(`export worker exited with code ${code} before answering`))));
  });
}

function startWorker(task: ExportWorkerTask): Worker {
  return startModuleWorker('export-worker', { workerData: task, resourceLimits: { maxOldGenerationSizeMb: workerHeapMb, maxYoungGenerationSizeMb: 8 } });
}
