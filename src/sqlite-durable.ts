import Database from 'better-sqlite3';
import { FlaggateError } from './errors.js';

/**
 * Pages of the ledger file one connection keeps in memory: SQLite's own default (about 2 MB).
 * better-sqlite3 builds SQLite with 16 MB per connection, which a writer appending at the tail of
 * the file and reading back its newest rows never uses, and which the three writers of the ledger
 * file (entries, timestamp tokens, change requests) would each fill as the file grows.
 */
const CACHE_KIB = 2000;

/**
 * A read-write connection on a ledger file as every writer of it opens one: WAL, every commit
 * fsync'd (synchronous=FULL), a wait of up to 5 s for another writer's lock, a small page cache.
 */
export function openDurableSqlite(path: string): Database.Database {
  const db = new Database(path);
  try {
    requireUtf8(db, path);
  } catch (err) {
    db.close();
    throw err;
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${CACHE_KIB}`);
  return db;
}

/**
 * Refuses a ledger file whose text is stored in UTF-16: flaggate makes every file UTF-8, and its
 * fast verification hashes the stored bytes of a body, which there would not be the text that every
 * reader (SQLite's JSON functions, exports, the console) sees. Throws AUDIT_CHAIN_BROKEN.
 */
export function requireUtf8(db: Database.Database, path: string): void {
  const encoding = db.pragma('encoding', { simple: true });
  if (encoding !== 'UTF-8') {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `${path} stores its text as ${String(encoding)}, not UTF-8: it is no ledger file flaggate wrote`, { details: { encoding } });
  }
}
