import type { StoredRow } from './entry.js';
import { provesLink, type StoredRowRead } from './prove-link.js';
import type { ProveRequest, TrustedHead } from './verify.js';

/** A part of the chain proven on its own: rows `from`..`head.seq`, the first linking to `firstPrev`. */
export interface RangeProof {
  from: number;
  firstPrev: string;
  head: TrustedHead;
  chainId: string;
}

export interface RowRange {
  from: number;
  to: number;
  /** The chain every row must belong to; null takes the first row's. */
  chainId: string | null;
  /** Trusted hashes by seq, for the heads inside the range. */
  trusted: ReadonlyMap<number, string>;
}

/**
 * Proves rows `range.from`..`range.to` read in stored order, without knowing what precedes them: the
 * first row must be `from` and is taken at its own `prev_hash` (stitched later); each row must be
 * proven by `provesLink`, belong to the chain and agree with a trusted head on its seq. Stops at the
 * first row it cannot prove; that row is left to the row-by-row check, which names the break.
 */
export function proveRows(rows: Iterable<StoredRow>, range: RowRange): RangeProof | undefined {
  const prover = createRangeProver(range);
  for (const row of rows) if (!prover.add(row)) break;
  return prover.proof();
}

/** `proveRows` a row at a time, for rows that arrive in pages: `add` says whether to go on. */
export function createRangeProver(range: RowRange): { add(row: StoredRowRead): boolean; proof(): RangeProof | undefined } {
  let prev: TrustedHead | undefined;
  let firstPrev = '';
  let head: TrustedHead | undefined;
  let chainId = range.chainId;
  let open = true;
  return {
    add(row) {
      if (!open || row.seq > range.to) return (open = false);
      if (prev === undefined) {
        if (row.seq !== range.from) return (open = false);
        prev = { seq: row.seq - 1, hash: row.prev_hash };
        firstPrev = row.prev_hash;
      }
      if (!provesLink(row, prev) || (chainId !== null && row.chain_id !== chainId)) return (open = false);
      chainId = row.chain_id;
      const trusted = range.trusted.get(row.seq);
      if (trusted !== undefined && trusted !== row.hash) return (open = false);
      prev = head = { seq: row.seq, hash: row.hash };
      return true;
    },
    proof: () => (head && chainId !== null ? { from: range.from, firstPrev, head, chainId } : undefined),
  };
}

/**
 * Joins proofs of consecutive ranges, in order, into the longest proven prefix of the request:
 * each must start right after the last proven row and link to its hash (only the request's own
 * unanchored start links to whatever its first row says), stay in one chain, and cover its whole
 * range before the next is joined.
 */
export function stitchProofs(request: ProveRequest, parts: Array<{ to: number; proof: RangeProof | undefined }>): { head: TrustedHead; chainId: string } | undefined {
  let prev = request.prev;
  let chainId = request.chainId;
  let proven: { head: TrustedHead; chainId: string } | undefined;
  for (const { to, proof } of parts) {
    if (!proof || proof.from !== prev.seq + 1) break;
    const links = prev.hash === '' ? proof.from === request.from : proof.firstPrev === prev.hash;
    if (!links || (chainId !== null && proof.chainId !== chainId)) break;
    chainId = proof.chainId;
    prev = proof.head;
    proven = { head: prev, chainId };
    if (proof.head.seq !== to) break;
  }
  return proven;
}
