import { closeSync, existsSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEntry } from '../../audit/entry.js';
import { canonicalJson } from '../../audit/canonical.js';
import type { Sink } from '../sink.js';
import { tightenFiles } from '../../private-path.js';

const tailWindow = 64 * 1024;

/**
 * The default upstream: an append-only JSON Lines file, one canonical entry per line, fsync'd before
 * acknowledging. Idempotent by seq: on open it reads its own last line to know what it holds.
 */
export function createJsonlSink(options: { name: string; path: string; required: boolean }): Sink {
  mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
  // Entries carry previous and new states, reasons and actors: owner-only whatever the umask.
  const fd = openSync(options.path, 'a+', 0o600);
  let lastSeq = lastSeqInFile(fd);
  const checkpointPath = options.path.replace(/(\.jsonl)?$/, '.checkpoints.jsonl');
  tightenFiles(options.path, checkpointPath);
  let cpFd: number | undefined = existsSync(checkpointPath) ? openSync(checkpointPath, 'a+', 0o600) : undefined;
  let lastCheckpointSeq = cpFd === undefined ? 0 : lastSeqInFile(cpFd);

  return {
    name: options.name,
    required: options.required,
    async deliver(entries) {
      const fresh = entries.filter((e) => e.seq > lastSeq);
      if (fresh.length === 0) return lastSeq;
      const text = fresh.map((e: AuditEntry) => canonicalJson(e) + '\n').join('');
      const bytes = Buffer.from(text, 'utf8');
      let written = 0;
      while (written < bytes.length) written += writeSync(fd, bytes, written);
      fsyncSync(fd);
      lastSeq = fresh[fresh.length - 1]!.seq;
      return lastSeq;
    },
    async deliverCheckpoints(checkpoints) {
      // Checkpoints go to a sibling file, so the entry stream stays one record type for shippers.
      const fresh = checkpoints.filter((c) => c.seq > lastCheckpointSeq);
      if (fresh.length === 0) return;
      cpFd ??= openSync(checkpointPath, 'a+', 0o600);
      const bytes = Buffer.from(fresh.map((c) => canonicalJson(c) + '\n').join(''), 'utf8');
      let written = 0;
      while (written < bytes.length) written += writeSync(cpFd, bytes, written);
      fsyncSync(cpFd);
      lastCheckpointSeq = fresh[fresh.length - 1]!.seq;
    },
    async close() {
      closeSync(fd);
      if (cpFd !== undefined) closeSync(cpFd);
    },
  };
}

/** The seq of the last complete line; a torn final line (crash mid-write) is ignored. */
function lastSeqInFile(fd: number): number {
  const size = fstatSync(fd).size;
  if (size === 0) return 0;
  const length = Math.min(size, tailWindow);
  const buf = Buffer.alloc(length);
  readSync(fd, buf, 0, length, size - length);
  const lines = buf.toString('utf8').split('\n');
  for (let i = lines.length - 1; i >= 0; i -= 1) {
    const line = lines[i]!;
    if (i === lines.length - 1 && line !== '') continue; // torn: no newline yet
    if (line.trim() === '') continue;
    try {
      const seq = (JSON.parse(line) as { seq?: unknown }).seq;
      if (typeof seq === 'number') return seq;
    } catch {
      continue;
    }
  }
  return 0;
}
