import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import type { Checkpoint } from '../../audit/index.js';
import type { TrustedHead } from '../../audit/index.js';

/**
 * The last complete line of a JSON Lines file that parses as an object (and that `accept` takes,
 * when given); a torn final line (a crash mid-write) and unparsable lines are passed over. Reads
 * backwards from the end, widening the window until a whole line fits, or until the whole file is
 * read when no line near the end is accepted (another chain's records after this one's).
 */
export function lastJsonRecord(fd: number, accept: (record: Record<string, unknown>) => boolean = () => true): Record<string, unknown> | undefined {
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
      const record = recordOf(whole[i]!);
      if (record !== undefined && accept(record)) return record;
    }
    if (length === size) return undefined;
  }
}

function recordOf(line: string): Record<string, unknown> | undefined {
  if (line.trim() === '') return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** The file a JSON Lines sink keeps its checkpoints in, beside its entry stream. */
export function checkpointPathOf(path: string): string {
  return path.replace(/(\.jsonl)?$/, '.checkpoints.jsonl');
}

/**
 * What a JSON Lines stream holds for one chain, read without writing: its newest entry (seq and
 * hash) and its newest checkpoint, found even behind another chain's records (a stream kept when
 * the chain id changed). Null where the file is absent or holds none of the chain.
 */
export function readJsonlHeads(path: string, chainId: string): { head: TrustedHead | null; checkpoint: Checkpoint | null } {
  const entry = lastRecordOf(path, (r) => r.chain_id === chainId);
  const cp = lastRecordOf(checkpointPathOf(path), (r) => r.chainId === chainId);
  const head = entry && typeof entry.seq === 'number' && typeof entry.hash === 'string' ? { seq: entry.seq, hash: entry.hash } : null;
  const checkpoint = cp && typeof cp.seq === 'number' && typeof cp.jws === 'string' ? (cp as unknown as Checkpoint) : null;
  return { head, checkpoint };
}

function lastRecordOf(path: string, accept: (record: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
  if (!existsSync(path)) return undefined;
  const fd = openSync(path, 'r');
  try {
    return lastJsonRecord(fd, accept);
  } finally {
    closeSync(fd);
  }
}
