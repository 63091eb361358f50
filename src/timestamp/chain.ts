import { TimestampError } from './errors.js';
import type { CertInfo } from './cert-info.js';

const MAX_CHAIN = 8;

/** One candidate path that did not end in a trust anchor valid at the time, and why. */
export interface ChainAttempt {
  path: string[];
  reason: 'TSA_CHAIN_UNTRUSTED' | 'TSA_CERT_EXPIRED';
  detail: string;
}

function validAt(c: CertInfo, at: Date): boolean {
  return new Date(c.x509.validFrom).getTime() <= at.getTime() && at.getTime() <= new Date(c.x509.validTo).getTime();
}

function issues(issuer: CertInfo, child: CertInfo): boolean {
  return child.x509.checkIssued(issuer.x509) && child.x509.verify(issuer.x509.publicKey);
}

/**
 * Builds a path from `leaf` through `pool` to one of `anchors`, every certificate valid at `at`
 * (a token's genTime). Throws `TSA_CERT_EXPIRED` when the only trusted paths are out of their
 * validity at `at`, otherwise `TSA_CHAIN_UNTRUSTED`; `details.attempts` keeps each candidate's reason.
 */
export function buildChain(leaf: CertInfo, pool: CertInfo[], anchors: CertInfo[], at: Date): CertInfo[] {
  const attempts: ChainAttempt[] = [];
  const names = (p: CertInfo[]) => p.map((c) => c.x509.subject.replace(/\n/g, ', '));

  const finish = (path: CertInfo[]): boolean => {
    const stale = path.find((c) => !validAt(c, at));
    if (!stale) return true;
    attempts.push({ path: names(path), reason: 'TSA_CERT_EXPIRED', detail: `${stale.x509.subject.replace(/\n/g, ', ')} is valid ${stale.x509.validFrom} to ${stale.x509.validTo}, not at ${at.toISOString()}` });
    return false;
  };

  const extend = (path: CertInfo[]): CertInfo[] | undefined => {
    const tip = path[path.length - 1]!;
    if (anchors.some((a) => a.x509.fingerprint256 === tip.x509.fingerprint256)) return finish(path) ? path : undefined;
    for (const a of anchors) {
      if (a.x509.ca && issues(a, tip)) {
        const full = [...path, a];
        if (finish(full)) return full;
      }
    }
    if (path.length >= MAX_CHAIN) {
      attempts.push({ path: names(path), reason: 'TSA_CHAIN_UNTRUSTED', detail: 'too long' });
      return undefined;
    }
    let extended = false;
    for (const c of pool) {
      if (path.some((p) => p.x509.fingerprint256 === c.x509.fingerprint256) || !c.x509.ca || !issues(c, tip)) continue;
      extended = true;
      const found = extend([...path, c]);
      if (found) return found;
    }
    if (!extended) attempts.push({ path: names(path), reason: 'TSA_CHAIN_UNTRUSTED', detail: 'no trusted issuer found' });
    return undefined;
  };

  const chain = extend([leaf]);
  if (chain) return chain;
  const reason = attempts.some((a) => a.reason === 'TSA_CERT_EXPIRED') ? 'TSA_CERT_EXPIRED' : 'TSA_CHAIN_UNTRUSTED';
  throw new TimestampError(reason, reason === 'TSA_CERT_EXPIRED' ? 'no chain valid at genTime' : 'signer does not chain to a trust anchor', { details: { attempts } });
}
