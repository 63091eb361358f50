import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Checkpoint } from '../../audit/index.js';
import type { TrustedHead } from '../../audit/index.js';

/**
 * The last complete line of a JSON Lines file that parses as an object; a torn final line (a crash
 * mid-write) and unparsable lines are passed over. Reads backwards from the end, widening the window
 * until a whole line fits, so one large entry does not hide the head.
 */
export function lastJsonRecord(fd: number): Record<string, unknown> | undefined {
  const size = fstatSync(fd).size;
  for (let window = 64 * 1024; ; window *= 4) {
    const length = Math.min(size, window);
    if (length === 0) return undefined;
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split('\n');
    lines.pop(); // after the last newline: empty, or a torn line
    const whole = length === size ? lines : lines.slice(1); // the first piece may start mid-line
    for (let i = whole.length - 1; i >= 0; i -= 1) {
      const line = whole[i]!;
      if (line.trim() === '') continue;
      try {
        const value = JSON.parse(line) as unknown;
        if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
      } catch {
        continue;
      }
    }
    if (length === size) return undefined;
  }
}

/** The file a JSON Lines sink keeps its checkpoints in, beside its entry stream. */
export function checkpointPathOf(path: string): string {
  return path.replace(/(\.jsonl)?$/, '.checkpoints.jsonl');
}

/**
 * What a JSON Lines stream holds for one chain, read without writing: its newest entry (seq and
 * hash) and its newest checkpoint. Null where the file is absent, empty, or ends with another chain.
 */
export function readJsonlHeads(path: string, chainId: string): { head: TrustedHead | null; checkpoint: Checkpoint | null } {
  const entry = lastRecordOf(path);
  const cp = lastRecordOf(checkpointPathOf(path));
  const head = entry && entry.chain_id === chainId && typeof entry.seq === 'number' && typeof entry.hash === 'string' ? { seq: entry.seq, hash: entry.hash } : null;
  const checkpoint =
    cp && cp.chainId === chainId && typeof cp.seq === 'number' && typeof cp.jws === 'string' ? (cp as unknown as Checkpoint) : null;
  return { head, checkpoint };
}

function lastRecordOf(path: string): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    return lastJsonRecord(fd);
  } finally {
    closeSync(fd);
  }
}
