import { parentPort, workerData } from 'node:worker_threads';
import { readExportedEntries, type EntriesJob } from './export-entries.js';
import type { EntriesReply } from './export-entries-aside.js';

/** Worker thread entry: the entries pass of `verify-export`, answered with its packed arrays moved, not copied. */
function run(job: EntriesJob): EntriesReply {
  try {
    return { ok: true, entries: readExportedEntries(job) };
  } catch (err) {
    return { ok: false, message: (err as Error).message ?? String(err) };
  }
}

const reply = run(workerData as EntriesJob);
const moved = reply.ok ? [reply.entries.seqs, reply.entries.hashes, reply.entries.prevs].map((a) => a.buffer as ArrayBuffer) : [];
parentPort?.postMessage(reply, moved);
