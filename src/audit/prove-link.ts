import { scanCanonicalUtf8, spellsAscii } from './canonical-scan.js';
import { isWellFormed } from './describe-value.js';
import type { StoredRow } from './entry.js';
import { chainHashOfWellFormedUtf8 } from './hash-entry.js';
import type { TrustedHead } from './verify.js';

/**
 * A stored row as a reader has it: its body as text, or as the bytes it is stored as where the reader
 * has those (binary COPY, a BLOB read), so they are scanned and hashed as they are, never decoded.
 * A NULL body is null either way.
 */
export type StoredRowRead = StoredRow | StoredRowBytes;

/**
 * A stored row with its body as the bytes it is stored as. `bodyWellFormed` is set by a reader that
 * has already found those bytes to be well-formed UTF-8 (a page of them at once), so they are not
 * checked again.
 */
export type StoredRowBytes = Omit<StoredRow, 'body'> & { readonly bodyUtf8: Uint8Array | null; readonly bodyWellFormed?: boolean };

/**
 * The fast form of `rowLinks`: true only when the row verifies and links to `prev` (its body
 * proven canonical by a single scan of its UTF-8, its columns equal to the body's fields, its hash
 * recomputed). False means "not proven here": the caller asks `rowLinks`, which decides and names
 * the break.
 */
export function provesLink(row: StoredRowRead, prev: TrustedHead): boolean {
  const { prev_hash: prevHash, chain_id: chainId } = row;
  // Every column checked for its type: a reader hands on NULLs (and a range's first row is taken at its own prev_hash).
  if (row.seq !== prev.seq + 1 || typeof prevHash !== 'string' || prevHash !== prev.hash || typeof chainId !== 'string' || typeof row.hash !== 'string') return false;
  const body = bodyBytes(row);
  if (body === undefined) return false;
  const top = scanCanonicalUtf8(body, 'bodyWellFormed' in row && row.bodyWellFormed === true);
  if (top === undefined || top.seq !== row.seq) return false;
  // ASCII columns, spelled by the body's bytes: prev_hash being ASCII is also what lets its bytes be hashed as they are.
  if (!spellsAscii(body, top.prevStart, top.prevEnd, prevHash) || !spellsAscii(body, top.chainStart, top.chainEnd, chainId)) return false;
  // The scan accepts only well-formed UTF-8.
  return chainHashOfWellFormedUtf8(prevHash, body) === row.hash;
}

/** The body's UTF-8: as read, or encoded from its text when that is well-formed (else it has no UTF-8 of its own). */
function bodyBytes(row: StoredRowRead): Uint8Array | undefined {
  if ('bodyUtf8' in row) return row.bodyUtf8 ?? undefined;
  const { body } = row;
  return typeof body === 'string' && isWellFormed(body) ? Buffer.from(body, 'utf8') : undefined;
}
