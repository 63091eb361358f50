import { scanCanonicalObject } from './canonical-scan.js';
import type { StoredRow } from './entry.js';
import { chainHash, chainHashOfUtf8 } from './hash-entry.js';
import type { TrustedHead } from './verify.js';

/** A stored row, with its body's bytes as read where the reader had them (binary COPY), so they are hashed as they are. */
export type StoredRowRead = StoredRow & { readonly bodyUtf8?: Uint8Array };

/**
 * The fast form of `rowLinks`: true only when the row verifies and links to `prev` (its body
 * proven canonical by a single scan, its columns equal to the body's fields, its hash recomputed).
 * False means "not proven here": the caller asks `rowLinks`, which decides and names the break.
 */
export function provesLink(row: StoredRowRead, prev: TrustedHead): boolean {
  const { body, prev_hash: prevHash, chain_id: chainId } = row;
  if (row.seq !== prev.seq + 1 || prevHash !== prev.hash || typeof body !== 'string' || typeof chainId !== 'string' || typeof row.hash !== 'string') return false;
  const top = scanCanonicalObject(body);
  if (top === undefined || top.seq !== row.seq || top.prevStart < 0 || top.chainStart < 0) return false;
  if (top.prevEnd - top.prevStart !== prevHash.length || !body.startsWith(prevHash, top.prevStart)) return false;
  if (top.chainEnd - top.chainStart !== chainId.length || !body.startsWith(chainId, top.chainStart)) return false;
  const fromBytes = row.bodyUtf8 === undefined ? undefined : chainHashOfUtf8(prevHash, row.bodyUtf8);
  return (fromBytes ?? chainHash(prevHash, body)) === row.hash;
}
