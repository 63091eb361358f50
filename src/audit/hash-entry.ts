import * as crypto from 'node:crypto';

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
