import Database from 'better-sqlite3';

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
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${CACHE_KIB}`);
  return db;
}
