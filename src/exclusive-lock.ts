/**
 * A lock across processes that the operating system releases when its holder ends, however it
 * ends: an open SQLite transaction (`BEGIN EXCLUSIVE`) on a file of its own. A killed holder leaves
 * nothing to take over, by hand or by a pid that a container's pid 1 or another pid namespace makes
 * meaningless; two processes can never both hold it.
 */
import { chmodSync } from 'node:fs';
import Database from 'better-sqlite3';

/** Takes the lock at `path`, waiting up to `waitMs`; returns its release, or undefined when another holds it. */
export function holdExclusive(path: string, waitMs: number): (() => void) | undefined {
  const db = new Database(path, { timeout: waitMs });
  try {
    chmodSync(path, 0o600);
    db.exec('BEGIN EXCLUSIVE');
  } catch (err) {
    db.close();
    if ((err as { code?: string }).code === 'SQLITE_BUSY') return undefined;
    throw err;
  }
  return () => {
    try {
      db.exec('ROLLBACK');
    } finally {
      db.close();
    }
  };
}
