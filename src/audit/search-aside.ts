import type { Worker } from 'node:worker_threads';
import { FlaggateError, type ErrorCode } from '../errors.js';
import type { EntryPage, EntrySearch, FoundRows } from './search-entries.js';
import { startModuleWorker } from './start-worker.js';

export type SearchReply = { id: number; ok: true; found: FoundRows } | { id: number; ok: false; code: ErrorCode; message: string; details: Record<string, unknown> };

/** Searches waiting beyond the one running: more are refused (CONTROL_BUSY) rather than queued without end. */
const MAX_WAITING = 8;

export interface EntrySearcher {
  /** `searchLedgerFile` on the ledger, in the searcher's worker thread. */
  search(filters: EntrySearch, page: EntryPage): Promise<FoundRows>;
  close(): Promise<void>;
}

/**
 * The audit log's searches off the event loop. A filtered search reads and parses every row that
 * is not a match (200,000 rows: about 0.6 s), and on the thread that serves the proxy it held up
 * every change for as long: here one worker thread, started at the first search, runs them one at
 * a time over a read-only connection of its own. A worker that fails fails the searches it held;
 * the next search starts another.
 */
export function openEntrySearcher(path: string): EntrySearcher {
  let worker: Worker | undefined;
  let nextId = 0;
  const waiting = new Map<number, { resolve(found: FoundRows): void; reject(err: Error): void }>();
  const failAll = (err: Error) => {
    for (const w of waiting.values()) w.reject(err);
    waiting.clear();
    worker = undefined;
  };
  const started = () => {
    if (worker) return worker;
    const w = startModuleWorker('search-worker', { workerData: { path } });
    w.unref();
    w.on('message', (reply: SearchReply) => {
      const asked = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (reply.ok) asked?.resolve(reply.found);
      else asked?.reject(new FlaggateError(reply.code, reply.message, { details: reply.details }));
    });
    w.on('error', (err) => failAll(new FlaggateError('INTERNAL', `the audit search failed: ${err.message}`)));
    w.on('exit', () => (worker === w ? failAll(new FlaggateError('INTERNAL', 'the audit search stopped')) : undefined));
    return (worker = w);
  };
  return {
    search(filters, page) {
      if (waiting.size > MAX_WAITING) return Promise.reject(new FlaggateError('CONTROL_BUSY', 'too many audit log searches are running; try again shortly'));
      const id = (nextId += 1);
      return new Promise<FoundRows>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        started().postMessage({ id, filters, page });
      });
    },
    async close() {
      const w = worker;
      worker = undefined;
      failAll(new FlaggateError('INTERNAL', 'the audit search closed'));
      await w?.terminate();
    },
  };
}
