import { lstatSync, rmSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { openLedgerReader } from './audit/index.js';
import { FlaggateError } from './errors.js';
import { ensurePrivateFile } from './private-path.js';

/**
 * `flaggate backup --out FILE`: a consistent copy of a live ledger file through SQLite's online
 * backup API (a `cp` of a WAL database can miss committed pages still in the `-wal` file). Entries,
 * checkpoints, timestamp tokens and cursors are all copied; an existing `out` is never overwritten.
 * Returns the copy's chain id and head, read back from the copy.
 */
export async function backupLedger(o: { db: string; out: string }): Promise<{ out: string; chainId: string | null; head: { seq: number; hash: string } }> {
  const out = resolve(o.out);
  // lstat, not exists: a dangling link would have the copy written wherever it points.
  if (lstatOrUndefined(out) !== undefined) throw new FlaggateError('CONFIG_INVALID', `${out} exists: a backup never overwrites a file (or follows a link)`);
  // The copy holds what the ledger holds (held bodies, headers): as private as the ledger, whatever the umask.
  ensurePrivateFile(out);
  let source: Database.Database;
  try {
    source = new Database(resolve(o.db), { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', `cannot open ledger ${o.db}`, { cause });
  }
  try {
    await source.backup(out);
  } catch (err) {
    rmSync(out, { force: true }); // no half copy left to be taken for a backup
    throw err;
  } finally {
    source.close();
  }
  const copy = openLedgerReader(out);
  try {
    let head = { seq: 0, hash: '' };
    for (let after = 0; ; ) {
      const rows = copy.rowsAfter(after, 5000);
      if (rows.length === 0) break;
      head = { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash };
      after = head.seq;
    }
    return { out, chainId: copy.chainId ?? null, head };
  } finally {
    copy.close();
  }
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}
