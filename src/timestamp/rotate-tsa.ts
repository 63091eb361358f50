import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlaggateError } from '../errors.js';
import { makeTsaKeyMaterial, writeTsaKeyMaterial } from './embedded-tsa.js';

/** The embedded TSA's signing certificate before and after a rotation, by SHA-256 of its DER. */
export interface TsaRotation {
  previous: string | null;
  current: string;
  /** Every anchor `ca.crt` now holds, newest first: tokens of earlier keys still chain to theirs. */
  anchors: number;
}

/**
 * Replaces the embedded TSA's key and certificate in `dir` (`<dataDir>/tsa`) with new ones under a
 * new self-issued CA. The earlier certificates stay behind the new ones in `tsa.crt` and `ca.crt`,
 * so tokens signed before the rotation keep verifying. A running sidecar signs with the key it
 * loaded until it restarts; its tokens verify either way.
 */
export function rotateEmbeddedTsa(dir: string, now: Date): TsaRotation {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8') : '');
  const oldChain = read('tsa.crt');
  const oldAnchors = read('ca.crt');
  if ((oldChain === '') !== (oldAnchors === '')) {
    throw new FlaggateError('CONFIG_INVALID', `${dir} holds only one of tsa.crt and ca.crt: restore both before rotating`);
  }
  const material = makeTsaKeyMaterial(now);
  writeTsaKeyMaterial(dir, material, { chainPem: oldChain, anchorsPem: oldAnchors });
  return {
    previous: oldChain ? leafDigest(oldChain) : null,
    current: leafDigest(material.chainPem),
    anchors: (material.caPem + oldAnchors).match(/-----BEGIN CERTIFICATE-----/g)?.length ?? 0,
  };
}

function leafDigest(chainPem: string): string {
  const first = chainPem.slice(0, chainPem.indexOf('-----END CERTIFICATE-----') + '-----END CERTIFICATE-----'.length);
  return createHash('sha256').update(new X509Certificate(first).raw).digest('hex');
}
