import Database from 'better-sqlite3';
import { FlaggateError } from '../errors.js';
import type { StoredRow } from './entry.js';
import type { ReadRows } from './verify.js';

/**
 * Opens a ledger file read-only, for `flaggate verify --db`: no schema is created, nothing written.
 * Returns the row reader the verifier takes, and the chain id the file is bound to.
 */
export function openLedgerReader(path: string): { read: ReadRows; chainId: string | undefined; close(): void } {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `cannot open ledger ${path}`, { cause });
  }
  const rows = db.prepare<[number, number], StoredRow>(
    'SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  const chain = db.prepare<[], { value: string }>("SELECT value FROM ledger_meta WHERE key = 'chain_id'").get();
  return { read: (after, limit) => rows.all(after, limit), chainId: chain?.value, close: () => db.close() };
}
