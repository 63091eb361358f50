/**
 * One `flaggate archive` run at a time per ledger. Two at once each read the same last archived
 * seq, upload the same segment and record it twice. The lock is a file beside the ledger, created
 * only if absent and holding the run's pid; a lock whose process is gone (a run killed mid-way) is
 * taken over. Another run holding it fails ARCHIVE_BUSY before anything is uploaded.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { FlaggateError } from '../errors.js';

export function archiveLockPath(ledgerPath: string): string {
  return `${ledgerPath}.archive-lock`;
}

/** Takes the lock of the ledger at `ledgerPath`; returns its release. */
export function takeArchiveLock(ledgerPath: string): () => void {
  const path = archiveLockPath(ledgerPath);
  const mine = `${process.pid}\n`;
  // Twice at most: once, and once more after removing a lock its run left behind.
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      try {
        writeSync(fd, mine);
      } finally {
        closeSync(fd);
      }
      return () => releaseIfMine(path, mine);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = holderOf(path);
      if (holder === undefined || isRunning(holder)) {
        throw new FlaggateError('ARCHIVE_BUSY', `another archive run (pid ${holder ?? 'unknown'}) holds ${path}; if no archive run is under way, remove that file`, {
          details: { lock: path, pid: holder ?? null },
        });
      }
      unlinkQuietly(path);
    }
  }
  throw new FlaggateError('ARCHIVE_BUSY', `another archive run took ${path} first`, { details: { lock: path, pid: null } });
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: a process of another user has that pid; it is running.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function releaseIfMine(path: string, mine: string): void {
  try {
    if (readFileSync(path, 'utf8') === mine) unlinkSync(path);
  } catch {
    // Already gone.
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Another run removed it first.
  }
}
