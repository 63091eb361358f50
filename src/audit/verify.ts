import { classifyBreak, rowLinks } from './classify-break.js';
import type { StoredRow } from './entry.js';
import { GENESIS_HASH } from './entry.js';

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
export type ChainFailureKind = 'modified' | 'deleted' | 'inserted' | 'reordered' | 'wrong_chain' | 'truncated' | 'bad_signature' | 'unknown_key';
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
}

const lookahead = 64;

/**
 * Recomputes a chain from raw rows and reports the first failure, with its kind. Trusts nothing but
 * the rows it is handed and the heads in `options`: it never opens a ledger itself, so one code path
 * checks SQLite, PostgreSQL and offline exports.
 */
export async function verifyChain(read: ReadRows, options: VerifyOptions = {}): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 1000;
  const from = options.from ?? 1;
  const to = options.to ?? Number.MAX_SAFE_INTEGER;
  const trusted = new Map((options.trusted ?? []).filter((t) => t.seq >= from && t.seq <= to).map((t) => [t.seq, t]));
  let chainId = options.chainId ?? null;
  let prev: TrustedHead = from === 1 ? { seq: 0, hash: GENESIS_HASH } : (options.anchor ?? { seq: from - 1, hash: '' });
  const anchored = from === 1 || options.anchor !== undefined;
  let entries = 0;
  let trustedSeen = 0;

  const report = (failure?: ChainFailure): VerifyReport => ({
    ok: !failure, chainId, entries, from, anchored, head: prev, trustedHeads: trusted.size, ...(failure ? { failure } : {}),
  });

  let buffer: StoredRow[] = [];
  let cursor = from - 1;
  let exhausted = false;
  const fill = async (want: number) => {
    while (!exhausted && buffer.length < want) {
      const rows = await read(cursor, batchSize);
      if (rows.length === 0) exhausted = true;
      else {
        cursor = Math.max(cursor, rows[rows.length - 1]!.seq);
        buffer = buffer.concat(rows);
      }
    }
  };

  for (;;) {
    await fill(lookahead);
    const row = buffer[0];
    if (!row || row.seq > to) break;
    if (prev.hash === '' && row.seq === from) prev = { seq: from - 1, hash: row.prev_hash }; // unanchored range start
    if (!rowLinks(row, prev)) {
      await fill(lookahead * 64);
      const found = classifyBreak(prev, buffer);
      return report({ code: 'AUDIT_CHAIN_BROKEN', ...found, row });
    }
    if (chainId !== null && row.chain_id !== chainId) {
      return report({ code: 'AUDIT_CHAIN_BROKEN', seq: row.seq, kind: 'wrong_chain', message: 'the row belongs to another chain', expected: chainId, actual: row.chain_id, row });
    }
    chainId ??= row.chain_id;
    const head = trusted.get(row.seq);
    if (head) {
      trustedSeen += 1;
      if (head.hash !== row.hash) {
        return report({ code: 'AUDIT_CHAIN_BROKEN', seq: row.seq, kind: 'modified', message: `the chain differs from the trusted head${head.source ? ` (${head.source})` : ''}`, expected: head.hash, actual: row.hash, row });
      }
    }
    prev = { seq: row.seq, hash: row.hash };
    entries += 1;
    buffer.shift();
  }
  if (trustedSeen < trusted.size) {
    const beyond = Math.max(...[...trusted.keys()].filter((s) => s > prev.seq));
    return report({ code: 'AUDIT_CHAIN_BROKEN', seq: prev.seq + 1, kind: 'truncated', message: `the chain ends at seq ${prev.seq}, before the trusted head at seq ${beyond}` });
  }
  return report();
}
