import { isUtf8 } from 'node:buffer';
import * as crypto from 'node:crypto';
import { isAscii } from './describe-value.js';

// crypto.hash (Node.js 20.12 and 21.7 on) digests in one call, without a Hash object per entry.
const oneShot = typeof crypto.hash === 'function' ? crypto.hash : undefined;

/** hash = hex(SHA-256(prevHash || canonicalBody)), both as UTF-8 bytes (ARCHITECTURE.md). */
export function chainHash(prevHash: string, canonicalBody: string): string {
  // Joined, a high surrogate ending prevHash and a low one starting the body would encode as one
  // character, not as two replaced halves: only a column a verifier was handed could hold that.
  const last = prevHash.length === 0 ? 0 : prevHash.charCodeAt(prevHash.length - 1);
  if (oneShot && (last < 0xd800 || last > 0xdbff)) return oneShot('sha256', prevHash + canonicalBody, 'hex');
  return crypto.createHash('sha256').update(prevHash, 'utf8').update(canonicalBody, 'utf8').digest('hex');
}

/** Reused for `chainHashOfUtf8`'s input; grown when a body is larger. */
let joined = Buffer.alloc(16 * 1024);

/**
 * `chainHash` of a body given as the UTF-8 bytes it is stored as (in one or more consecutive parts),
 * without decoding them and encoding them again: the same hash whenever the bytes are well-formed
 * UTF-8 (they decode to a text whose UTF-8 is those bytes) and `prevHash` is ASCII. Otherwise
 * undefined: the decoded text decides.
 */
export function chainHashOfUtf8(prevHash: string, ...body: Uint8Array[]): string | undefined {
  for (const part of body) if (!isUtf8(part)) return undefined;
  return chainHashOfWellFormedUtf8(prevHash, ...body);
}

/** `chainHashOfUtf8` of parts the caller has already found to be well-formed UTF-8. */
export function chainHashOfWellFormedUtf8(prevHash: string, ...body: Uint8Array[]): string | undefined {
  // ASCII, whose Latin-1 bytes are its UTF-8.
  if (!oneShot || !isAscii(prevHash)) return undefined;
  let length = prevHash.length;
  for (const part of body) length += part.length;
  if (joined.length < length) joined = Buffer.alloc(Math.max(length, 2 * joined.length));
  let at = joined.write(prevHash, 0, 'latin1');
  for (const part of body) {
    joined.set(part, at);
    at += part.length;
  }
  // A plain view, about a third of the cost of a Buffer's subarray.
  return oneShot('sha256', new Uint8Array(joined.buffer, joined.byteOffset, length), 'hex');
}
