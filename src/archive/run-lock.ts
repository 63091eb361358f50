/**
 * One `flaggate archive` run at a time per ledger. Two at once each read the same last archived
 * seq, upload the same segment and record it twice. A run holds `<ledger>.archive-lock` for its
 * whole length (an exclusive transaction on it, which the operating system releases when the run
 * ends, killed or not); another run meanwhile fails ARCHIVE_BUSY before anything is uploaded.
 */
import { FlaggateError } from '../errors.js';
import { holdExclusive } from '../exclusive-lock.js';

export function archiveLockPath(ledgerPath: string): string {
  return `${ledgerPath}.archive-lock`;
}

/** Takes the lock of the ledger at `ledgerPath`; returns its release. */
export function takeArchiveLock(ledgerPath: string): () => void {
  const path = archiveLockPath(ledgerPath);
  const release = holdExclusive(path, 0);
  if (release) return release;
  throw new FlaggateError('ARCHIVE_BUSY', `another archive run of this ledger holds ${path}`, { details: { lock: path } });
}
