import { fileLines } from '../../audit/index.js';

/** Where a JSON Lines stream stops being a whole copy of a chain, if it does. */
export interface StreamBreak {
  /** `gap`: an entry missing between two it holds; `forked`: an entry other than the chain's; `malformed`: a line that is not an entry. */
  kind: 'gap' | 'forked' | 'malformed';
  /** The first seq concerned (the first one missing, or the one that differs). */
  seq: number;
  message: string;
}

/**
 * Reads a JSON Lines stream whole and checks that what it holds of `chainId` is one unbroken run
 * of the chain: from its first entry of the chain (earlier lines may have been rotated away by a
 * log shipper) each next seq, each with the hash `hashAt` gives for it (undefined: past what the
 * caller holds, left to the head comparison). Other chains' lines are passed over, and so is a
 * last line torn by a crash mid-write, which the sink removes when it next opens the file.
 */
export function findStreamBreak(path: string, chainId: string, hashAt: (seq: number) => string | undefined): StreamBreak | undefined {
  let expected: number | undefined;
  let unreadable: number | undefined;
  let line = 0;
  for (const text of fileLines(path)) {
    line += 1;
    if (unreadable !== undefined) return { kind: 'malformed', seq: expected ?? 1, message: `line ${unreadable} of the stream is not an entry` };
    const entry = parsed(text);
    if (entry === undefined) {
      unreadable = line;
      continue;
    }
    if (entry.chain_id !== chainId) continue;
    if (expected !== undefined && entry.seq !== expected) {
      return entry.seq > expected
        ? { kind: 'gap', seq: expected, message: `the stream holds no entry from seq ${expected} to ${entry.seq - 1}, between two it holds` }
        : { kind: 'forked', seq: entry.seq, message: `the stream holds seq ${entry.seq} again after seq ${expected - 1}` };
    }
    const hash = hashAt(entry.seq);
    if (hash !== undefined && hash !== entry.hash) return { kind: 'forked', seq: entry.seq, message: `the stream's entry at seq ${entry.seq} differs from the local one` };
    expected = entry.seq + 1;
  }
  return undefined;
}

function parsed(text: string): { chain_id: unknown; seq: number; hash: unknown } | undefined {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null) return undefined;
    const { chain_id: chainId, seq, hash } = value as Record<string, unknown>;
    return typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0 ? { chain_id: chainId, seq, hash } : undefined;
  } catch {
    return undefined;
  }
}
