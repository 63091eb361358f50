import { isoUtc, type Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import type { ArchiveStore, Refusal } from './store.js';

export interface LockProbe {
  ok: boolean;
  key: string;
  versionId: string;
  /** Moving the probe's retention date earlier (with the governance bypass header). */
  shortenRetention: Refusal;
  /** Deleting the probe's version (with the governance bypass header). */
  deleteVersion: Refusal;
  failure?: { code: 'ARCHIVE_NOT_LOCKED'; message: string };
}

/**
 * Proves the bucket enforces COMPLIANCE with the credentials flaggate holds: writes a small probe
 * object locked for a day, then tries to shorten its retention and to delete its version, both with
 * the governance bypass. Both must be refused with 403 (AccessDenied); any other answer fails the probe. The probe is its own
 * object, never a segment: on a bucket that does not enforce the lock the attempts would succeed,
 * and they must not cost a real segment.
 */
export async function probeArchiveLock(store: ArchiveStore, o: { prefix: string; chainId: string; clock: Clock }): Promise<LockProbe> {
  const now = o.clock.now();
  const key = `${o.prefix}${o.chainId}/lock-probe/${isoUtc(now)}.txt`;
  const until = new Date(Math.ceil((now + 86_400_000) / 1000) * 1000);
  const { versionId } = await store.putLocked(key, Buffer.from(`flaggate lock probe ${isoUtc(now)}\n`), until);
  // An hour ahead: still a valid date when it arrives, and earlier than the lock's day.
  const shortenRetention = await store.tryShortenRetention(key, versionId, new Date(Math.ceil((now + 3_600_000) / 1000) * 1000));
  const deleteVersion = await store.tryDeleteVersion(key, versionId);
  // Only a 403 is the lock refusing; any other answer (a 400 over the request) proves nothing.
  const notRefused = [
    lockRefused(shortenRetention) ? null : `shortening its retention (${answer(shortenRetention)})`,
    lockRefused(deleteVersion) ? null : `deleting its version (${answer(deleteVersion)})`,
  ].filter(Boolean);
  if (notRefused.length === 0) return { ok: true, key, versionId, shortenRetention, deleteVersion };
  const failure = new FlaggateError('ARCHIVE_NOT_LOCKED', `s3://${store.bucket}/${key}: the store did not refuse ${notRefused.join(' or ')} with 403 under a COMPLIANCE lock`);
  return { ok: false, key, versionId, shortenRetention, deleteVersion, failure: { code: 'ARCHIVE_NOT_LOCKED', message: failure.message } };
}

const lockRefused = (r: Refusal): boolean => r.refused && r.status === 403;
const answer = (r: Refusal): string => (r.refused ? `answered ${r.status ?? '?'} ${r.code ?? ''}`.trim() : 'allowed');
