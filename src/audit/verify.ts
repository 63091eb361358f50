import { classifyBreak, rowLinks } from './classify-break.js';
import type { StoredRow } from './entry.js';
import { GENESIS_HASH } from './entry.js';
import { provesLink } from './prove-link.js';

/** Reads raw rows with seq > afterSeq in stored order; an empty array ends the chain. */
export type ReadRows = (afterSeq: number, limit: number) => Promise<StoredRow[]> | StoredRow[];

/** A head vouched for outside the rows (a signed checkpoint, a sink acknowledgement, an export). */
export interface TrustedHead {
  seq: number;
  hash: string;
  /** Where the head comes from, for the report. */
  source?: string;
}

/** What the rows, checkpoints and upstream heads show. */
export type ChainFailureKind = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'wrong_chain' | 'truncated' | 'bad_signature' | 'unknown_key' | 'unchecked';
/**
 * What the RFC 3161 tokens show: an entry no token covers, a token that does not verify, a token made
 * later than the bound after the entry it first covers (the history was stamped again), or before it.
 */
export type EvidenceFailureKind = 'uncovered' | 'bad_timestamp' | 'restamped' | 'predated';
export type FailureKind = ChainFailureKind | EvidenceFailureKind;

export interface ChainFailure {
  /** `TIMESTAMP_INVALID` for the evidence kinds, else `AUDIT_CHAIN_BROKEN`. */
  code: 'AUDIT_CHAIN_BROKEN' | 'TIMESTAMP_INVALID';
  seq: number;
  kind: FailureKind;
  message: string;
  expected?: string;
  actual?: string;
  row?: StoredRow;
}

export interface VerifyReport {
  ok: boolean;
  chainId: string | null;
  /** Rows checked. */
  entries: number;
  /** The first seq checked, and whether its link to what came before was proven. */
  from: number;
  anchored: boolean;
  head: TrustedHead;
  /** Trusted heads the chain was checked against. */
  trustedHeads: number;
  failure?: ChainFailure;
}

export interface VerifyOptions {
  chainId?: string;
  /** Heads the rows must reach and agree with; truncation is detectable only against one. */
  trusted?: TrustedHead[];
  /** Verify seq `from`..`to` only. `anchor` is the trusted hash at `from - 1` (else the link is unproven). */
  from?: number;
  to?: number;
  anchor?: TrustedHead;
  batchSize?: number;
  /** Proves a leading part of the range faster (in parallel); the rest is checked here, row by row. */
  prove?: ProveRange;
  /**
   * How many rows the store holds at or below `through`, whatever their seq (zero, negative, twice)
   * and the lowest seq among them: a walk by `seq > cursor` never reads a row below seq 1 or a second
   * row of a seq, so a chain from seq 1 is whole only when the store holds exactly the rows walked.
   */
  census?: Census;
}

export type Census = (through: number) => Promise<{ rows: number; lowest: number | null }> | { rows: number; lowest: number | null };

/** Where a prover starts: the range, the head before it (`hash: ''` when unanchored), the chain and the trusted heads in the range. */
export interface ProveRequest {
  from: number;
  to: number;
  prev: TrustedHead;
  chainId: string | null;
  trusted: TrustedHead[];
}

/**
 * A leading part of the range proven: every row from `from` to `head.seq` is there, links to the
 * one before (the first to `prev`, or to its own `prev_hash` when unanchored), belongs to `chainId`
 * and agrees with every trusted head among them. Proving nothing is `undefined`.
 */
export type ProveRange = (request: ProveRequest) => Promise<{ head: TrustedHead; chainId: string } | undefined>;

const lookahead = 64;

/**
 * Recomputes a chain from raw rows and reports the first failure, with its kind. Trusts nothing but
 * the rows it is handed and the heads in `options`: it never opens a ledger itself, so one code path
 * checks SQLite, PostgreSQL and offline exports.
 */
export async function verifyChain(read: ReadRows, options: VerifyOptions = {}): Promise<VerifyReport> {
  const from = options.from ?? 1;
  const to = options.to ?? Number.MAX_SAFE_INTEGER;
  const trusted = new Map((options.trusted ?? []).filter((t) => t.seq >= from && t.seq <= to).map((t) => [t.seq, t]));
  const state: ChainState = {
    chainId: options.chainId ?? null,
    prev: from === 1 ? { seq: 0, hash: GENESIS_HASH } : (options.anchor ?? { seq: from - 1, hash: '' }),
    entries: 0,
    trustedSeen: 0,
  };
  const anchored = from === 1 || options.anchor !== undefined;
  if (options.prove) {
    const proven = await options.prove({ from, to, prev: state.prev, chainId: state.chainId, trusted: [...trusted.values()] });
    if (proven) {
      state.prev = proven.head;
      state.chainId = proven.chainId;
      state.entries = proven.head.seq - from + 1;
      state.trustedSeen = [...trusted.keys()].filter((seq) => seq <= proven.head.seq).length;
    }
  }
  const failure = await checkRows(read, { from, to, batchSize: options.batchSize ?? 1000, trusted }, state);
  const { prev, chainId, entries, trustedSeen } = state;
  const report = (f?: ChainFailure): VerifyReport => ({ ok: !f, chainId, entries, from, anchored, head: prev, trustedHeads: trusted.size, ...(f ? { failure: f } : {}) });
  if (failure) return report(failure);
  const stray = from === 1 && options.census ? await strayRows(options.census, prev.seq, entries) : undefined;
  if (stray) return report(stray);
  if (trustedSeen < trusted.size) {
    const beyond = Math.max(...[...trusted.keys()].filter((s) => s > prev.seq));
    return report({ code: 'AUDIT_CHAIN_BROKEN', seq: prev.seq + 1, kind: 'truncated', message: `the chain ends at seq ${prev.seq}, before the trusted head at seq ${beyond}` });
  }
  return report();
}

/** Rows the store holds that the walk did not read (a seq below 1, or a seq held twice): `inserted`. */
async function strayRows(census: Census, through: number, walked: number): Promise<ChainFailure | undefined> {
  const { rows, lowest } = await census(through);
  if (rows === walked) return undefined;
  const seq = lowest !== null && lowest < 1 ? lowest : through;
  return { code: 'AUDIT_CHAIN_BROKEN', seq, kind: 'inserted', message: `the store holds ${rows} rows at or below seq ${through}, not the ${walked} of the chain: a row with a seq below 1 or a seq held twice is not in it${lowest !== null && lowest < 1 ? ` (seq ${lowest})` : ''}` };
}

/** Where the row-by-row check stands: the last row that verified, the chain, and what was counted. */
interface ChainState {
  chainId: string | null;
  prev: TrustedHead;
  entries: number;
  trustedSeen: number;
}

/** Rows after `state.prev` in stored order, a batch at a time, keeping at least `want` unchecked rows at hand when there are that many. */
function rowWindow(read: ReadRows, after: number, batchSize: number) {
  let buffer: StoredRow[] = [];
  let index = 0;
  let cursor = after;
  let exhausted = false;
  return {
    async fill(want: number): Promise<void> {
      while (!exhausted && buffer.length - index < want) {
        const rows = await read(cursor, batchSize);
        if (rows.length === 0) exhausted = true;
        else {
          cursor = Math.max(cursor, rows[rows.length - 1]!.seq);
          buffer = buffer.slice(index).concat(rows);
          index = 0;
        }
      }
    },
    peek: (): StoredRow | undefined => buffer[index],
    rest: (): StoredRow[] => buffer.slice(index),
    next(): void {
      index += 1;
    },
  };
}

/**
 * Checks rows one by one from `state.prev`, advancing `state`; returns the first failure. Each row is
 * first proven by the fast scan; a row it cannot prove gets the full check, which decides.
 */
async function checkRows(read: ReadRows, range: { from: number; to: number; batchSize: number; trusted: Map<number, TrustedHead> }, state: ChainState): Promise<ChainFailure | undefined> {
  const { from, to, trusted } = range;
  const rows = rowWindow(read, state.prev.seq, range.batchSize);
  for (;;) {
    await rows.fill(lookahead);
    const row = rows.peek();
    if (!row || row.seq > to) return undefined;
    const { prev } = state;
    if (prev.hash === '' && row.seq === from) state.prev = { seq: from - 1, hash: row.prev_hash }; // unanchored range start
    if (!provesLink(row, state.prev) && !rowLinks(row, state.prev)) {
      await rows.fill(lookahead * 64);
      const found = classifyBreak(state.prev, rows.rest());
      return { code: 'AUDIT_CHAIN_BROKEN', ...found, row };
    }
    if (state.chainId !== null && row.chain_id !== state.chainId) {
      return { code: 'AUDIT_CHAIN_BROKEN', seq: row.seq, kind: 'wrong_chain', message: 'the row belongs to another chain', expected: state.chainId, actual: row.chain_id, row };
    }
    state.chainId ??= row.chain_id;
    const head = trusted.get(row.seq);
    if (head) {
      state.trustedSeen += 1;
      if (head.hash !== row.hash) {
        return { code: 'AUDIT_CHAIN_BROKEN', seq: row.seq, kind: 'modified', message: `the chain differs from the trusted head${head.source ? ` (${head.source})` : ''}`, expected: head.hash, actual: row.hash, row };
      }
    }
    state.prev = { seq: row.seq, hash: row.hash };
    state.entries += 1;
    rows.next();
  }
}
