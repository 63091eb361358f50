import { canonicalJson } from './canonical.js';
import type { StoredRow } from './entry.js';
import { GENESIS_HASH } from './entry.js';
import { chainHash } from './hash-entry.js';

/** Reads raw rows with seq > afterSeq, oldest first; an empty array ends the chain. */
export type ReadRows = (afterSeq: number, limit: number) => Promise<StoredRow[]> | StoredRow[];

/** A head vouched for outside the ledger (a sink acknowledgement, a checkpoint, an export). */
export interface TrustedHead {
  seq: number;
  hash: string;
}

export type FailureKind =
  | 'modified' // a row's bytes no longer hash to what the chain says
  | 'not_canonical' // the stored body is not RFC 8785 canonical JSON
  | 'deleted' // a gap in seq
  | 'reordered' // seq goes backwards or repeats
  | 'wrong_chain' // a row of another chain
  | 'truncated'; // the chain ends before a trusted head

export interface ChainFailure {
  code: 'AUDIT_CHAIN_BROKEN';
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
  entries: number;
  head: TrustedHead;
  failure?: ChainFailure;
}

/**
 * Recomputes the chain from raw rows and reports the first failure. Trusts nothing but the rows
 * it is handed and the optional trusted head: truncation is detectable only against one.
 */
export async function verifyChain(
  read: ReadRows,
  options: { chainId?: string; trusted?: TrustedHead; batchSize?: number } = {},
): Promise<VerifyReport> {
  const batchSize = options.batchSize ?? 1000;
  let chainId = options.chainId ?? null;
  let prev: TrustedHead = { seq: 0, hash: GENESIS_HASH };
  let entries = 0;
  let trustedSeen = false;
  const report = (failure?: ChainFailure): VerifyReport => ({ ok: !failure, chainId, entries, head: prev, ...(failure ? { failure } : {}) });

  for (;;) {
    const rows = await read(prev.seq, batchSize);
    if (rows.length === 0) break;
    for (const row of rows) {
      const failure = checkRow(row, prev, chainId);
      if (failure) return report(failure);
      chainId ??= row.chain_id;
      if (options.trusted && row.seq === options.trusted.seq) {
        trustedSeen = true;
        if (row.hash !== options.trusted.hash) {
          return report(broken(row.seq, 'modified', 'the entry differs from the trusted head', options.trusted.hash, row.hash, row));
        }
      }
      prev = { seq: row.seq, hash: row.hash };
      entries += 1;
    }
  }
  if (options.trusted && !trustedSeen && options.trusted.seq > prev.seq) {
    return report(broken(prev.seq + 1, 'truncated', `the chain ends at seq ${prev.seq}, before the trusted head at seq ${options.trusted.seq}`));
  }
  return report();
}

function checkRow(row: StoredRow, prev: TrustedHead, chainId: string | null): ChainFailure | undefined {
  const expectedSeq = prev.seq + 1;
  if (row.seq > expectedSeq) return broken(expectedSeq, 'deleted', `seq ${expectedSeq} is missing (next row is seq ${row.seq})`);
  if (row.seq < expectedSeq) return broken(row.seq, 'reordered', `seq ${row.seq} appears after seq ${prev.seq}`, undefined, undefined, row);
  if (chainId !== null && row.chain_id !== chainId) {
    return broken(row.seq, 'wrong_chain', 'the row belongs to another chain', chainId, row.chain_id, row);
  }

  let body: Record<string, unknown>;
  try {
    body = JSON.parse(row.body) as Record<string, unknown>;
  } catch {
    return broken(row.seq, 'modified', 'the stored body is not JSON', undefined, undefined, row);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return broken(row.seq, 'modified', 'the stored body is not a JSON object', undefined, undefined, row);
  }
  let canonical: string;
  try {
    canonical = canonicalJson(body);
  } catch {
    return broken(row.seq, 'modified', 'the stored body has no canonical form', undefined, undefined, row);
  }
  if (canonical !== row.body) return broken(row.seq, 'not_canonical', 'the stored body is not RFC 8785 canonical JSON', canonical, row.body, row);

  if (body.seq !== row.seq || body.chain_id !== row.chain_id || body.prev_hash !== row.prev_hash) {
    return broken(row.seq, 'modified', 'the row columns disagree with the hashed body', undefined, undefined, row);
  }
  if (row.prev_hash !== prev.hash) {
    return broken(row.seq, 'modified', 'prev_hash does not link to the previous entry', prev.hash, row.prev_hash, row);
  }
  const recomputed = chainHash(row.prev_hash, row.body);
  if (recomputed !== row.hash) return broken(row.seq, 'modified', 'the entry does not hash to its stored hash', recomputed, row.hash, row);
  return undefined;
}

function broken(seq: number, kind: FailureKind, message: string, expected?: string, actual?: string, row?: StoredRow): ChainFailure {
  const failure: ChainFailure = { code: 'AUDIT_CHAIN_BROKEN', seq, kind, message };
  if (expected !== undefined) failure.expected = expected;
  if (actual !== undefined) failure.actual = actual;
  if (row !== undefined) failure.row = row;
  return failure;
}
