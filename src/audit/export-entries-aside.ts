import type { Worker } from 'node:worker_threads';
import { readExportedEntries, type EntriesJob, type ExportedEntries } from './export-entries.js';
import { startModuleWorker } from './start-worker.js';

export type EntriesReply = { ok: true; entries: ExportedEntries } | { ok: false; message: string };

/**
 * Below this many entries the pass runs on the caller's thread when asked for: a worker's start
 * (about 0.1 s) costs as much as it saves. Measured: at 5,000 entries a worker is a little slower,
 * at 10,000 about even, at 20,000 it takes 0.6 s where one thread takes 0.9.
 */
export const ENTRIES_WORKER_FROM = 10_000;

/**
 * The entries pass of `verify-export`, started now in a worker thread when `inWorker` (it needs
 * nothing from the chain, so it runs while the chain is checked), else run on this thread when
 * `read` is first called. A worker that cannot start, fails or dies leaves the pass to this
 * thread; `cancel` ends a worker whose answer is no longer needed.
 */
export function readEntriesAside(job: EntriesJob, inWorker: boolean): { read(): Promise<ExportedEntries>; cancel(): void } {
  if (!inWorker) return { read: async () => readExportedEntries(job), cancel: () => undefined };
  const aside = readEntriesInWorker(job);
  return { read: async () => (await aside.answer) ?? readExportedEntries(job), cancel: aside.cancel };
}

/** The entries pass in a worker thread: its answer, or undefined when the worker could not give one. */
export function readEntriesInWorker(job: EntriesJob): { answer: Promise<ExportedEntries | undefined>; cancel(): void } {
  let worker: Worker | undefined;
  const answer = new Promise<ExportedEntries | undefined>((resolve) => {
    try {
      worker = startModuleWorker('export-entries-worker', { workerData: job, resourceLimits: { maxYoungGenerationSizeMb: 16 } });
      worker.once('message', (reply: EntriesReply) => resolve(reply.ok ? reply.entries : undefined));
      worker.once('error', () => resolve(undefined));
      worker.once('exit', () => resolve(undefined));
    } catch {
      resolve(undefined);
    }
  });
  return { answer, cancel: () => void worker?.terminate() };
}
