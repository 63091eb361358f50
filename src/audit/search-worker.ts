import { parentPort, workerData } from 'node:worker_threads';
import { FlaggateError } from '../errors.js';
import { searchLedgerFile, type EntryPage, type EntrySearch } from './search-entries.js';
import type { SearchReply } from './search-aside.js';

/** Worker thread entry: the ledger searches of the audit log, one at a time, in the order asked. */
const { path } = workerData as { path: string };
parentPort?.on('message', ({ id, filters, page }: { id: number; filters: EntrySearch; page: EntryPage }) => {
  let reply: SearchReply;
  try {
    reply = { id, ok: true, found: searchLedgerFile(path, filters, page) };
  } catch (err) {
    const e = err instanceof FlaggateError ? err : new FlaggateError('INTERNAL', (err as Error).message ?? String(err));
    reply = { id, ok: false, code: e.code, message: e.message, details: e.details };
  }
  parentPort!.postMessage(reply);
});
