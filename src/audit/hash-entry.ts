import { createHash } from 'node:crypto';

/** hash = hex(SHA-256(prevHash || canonicalBody)), both as UTF-8 bytes (ARCHITECTURE.md). */
export function chainHash(prevHash: string, canonicalBody: string): string {
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalBody, 'utf8').digest('hex');
}
