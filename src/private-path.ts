import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';

/**
 * Creates `dir` (and missing parents) and sets it to 0700 whatever the umask: the data dir holds
 * held request bodies and headers, keys and the ledger. An existing directory is tightened too.
 */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/**
 * Creates `path` empty if it does not exist and sets it to 0600 whatever the umask; an existing
 * file is tightened too. Call before a library (SQLite) opens it: SQLite gives its -wal and -shm
 * files the database file's mode.
 */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

/** Sets each existing path to 0600 (files another library created beside a private file). */
export function tightenFiles(...paths: string[]): void {
  for (const path of paths) if (existsSync(path)) chmodSync(path, 0o600);
}
