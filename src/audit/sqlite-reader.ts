import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { FlaggateError } from '../errors.js';
import { requireUtf8 } from '../sqlite-durable.js';
import type { Checkpoint } from './checkpoint.js';
import type { StoredRow } from './entry.js';
import { proveInWorkers, type ParallelOptions } from './prove-in-workers.js';
import type { Census, ProveRange, ReadRows } from './verify.js';

/**
 * Opens a ledger file read-only, for `flaggate verify --db`: no schema is created, nothing written.
 * Returns the row reader the verifier takes, and the chain id the file is bound to.
 */
/** A stored RFC 3161 token and the entry it covers. */
export interface TokenRow {
  id: number;
  coversSeq: number;
  coversHash: string;
  token: Buffer;
}

export interface LedgerReader {
  read: ReadRows;
  /** The same rows, read synchronously. */
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  chainId: string | undefined;
  checkpoints(): Checkpoint[];
  tokens(): TokenRow[];
  hashAt(seq: number): string | undefined;
  /** The last row by seq (seq 0 and an empty hash when there is none). */
  head(): { seq: number; hash: string };
  /** Proves ranges of this file in worker threads, for `verifyChain`'s `prove` option. */
  prove(options?: ParallelOptions): ProveRange;
  /** The rows at or below a seq, whatever their seq, for `verifyChain`'s `census` option. */
  census: Census;
  /** The first and last seq whose `timestamp_utc` lies in [from, to) (0 and 0 when none); found by SQLite, not by parsing rows. */
  seqRange(period: { from: string | null; to: string | null }): { first: number; last: number };
  /** Tokens with coversSeq >= fromSeq, in coversSeq order, a page at a time. */
  tokensFrom(fromSeq: number, limit: number): TokenRow[];
  close(): void;
}

/**
 * One `ledger_meta` value of the ledger file at `path`, read-only, before the ledger is opened for
 * writing; undefined when the file, its table or the key is absent.
 */
export function readLedgerMeta(path: string, key: string): string | undefined {
  if (!existsSync(path)) return undefined;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ledger_meta'").get();
    return table ? db.prepare<[string], { value: string }>('SELECT value FROM ledger_meta WHERE key = ?').get(key)?.value : undefined;
  } finally {
    db.close();
  }
}

export function openLedgerReader(path: string): LedgerReader {
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `cannot open ledger ${path}`, { cause });
  }
  try {
    requireUtf8(db, path);
  } catch (err) {
    db.close();
    throw err;
  }
  const rows = db.prepare<[number, number], StoredRow>(
    'SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?',
  );
  const chain = db.prepare<[], { value: string }>("SELECT value FROM ledger_meta WHERE key = 'chain_id'").get();
  const hasCheckpoints = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'checkpoints'").get() !== undefined;
  const checkpoints = (): Checkpoint[] =>
    hasCheckpoints
      ? db
          .prepare<[], { seq: number; chain_id: string; hash: string; time: string; kid: string; jws: string }>('SELECT seq, chain_id, hash, time, kid, jws FROM checkpoints ORDER BY seq')
          .all()
          .map((r) => ({ chainId: r.chain_id, seq: r.seq, hash: r.hash, time: r.time, kid: r.kid, jws: r.jws }))
      : [];
  const hasTokens = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'timestamp_tokens'").get() !== undefined;
  const tokens = (): TokenRow[] =>
    hasTokens
      ? db
          .prepare<[], { id: number; covers_seq: number; covers_hash: string; token: Buffer }>('SELECT id, covers_seq, covers_hash, token FROM timestamp_tokens ORDER BY covers_seq')
          .all()
          .map((r) => ({ id: r.id, coversSeq: r.covers_seq, coversHash: r.covers_hash, token: r.token }))
      : [];
  const hashAt = db.prepare<[number], { hash: string }>('SELECT hash FROM audit_entries WHERE seq = ?');
  const counted = db.prepare<[number], { rows: number; lowest: number | null }>('SELECT count(*) AS rows, min(seq) AS lowest FROM audit_entries WHERE seq <= ?');
  const last = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1');
  const head = () => last.get() ?? { seq: 0, hash: '' };
  // Bodies are canonical JSON, so `timestamp_utc` is one ISO string; TEXT compares bytewise, as JS strings do.
  const range = db.prepare<[{ from: string | null; to: string | null }], { first: number | null; last: number | null }>(
    `SELECT min(seq) AS first, max(seq) AS last FROM audit_entries
     WHERE (@from IS NULL OR json_extract(body, '$.timestamp_utc') >= @from) AND (@to IS NULL OR json_extract(body, '$.timestamp_utc') < @to)`,
  );
  const tokensFrom = hasTokens
    ? db.prepare<[number, number], { id: number; covers_seq: number; covers_hash: string; token: Buffer }>(
        'SELECT id, covers_seq, covers_hash, token FROM timestamp_tokens WHERE covers_seq >= ? ORDER BY covers_seq LIMIT ?',
      )
    : undefined;
  return {
    read: (after, limit) => rows.all(after, limit),
    rowsAfter: (after, limit) => rows.all(after, limit),
    chainId: chain?.value,
    checkpoints,
    tokens,
    hashAt: (seq) => hashAt.get(seq)?.hash,
    head,
    prove: (options) => proveInWorkers(path, () => head().seq, options),
    census: (through) => counted.get(through)!,
    seqRange: (period) => {
      const r = range.get({ from: period.from, to: period.to });
      return { first: r?.first ?? 0, last: r?.last ?? 0 };
    },
    tokensFrom: (fromSeq, limit) =>
      tokensFrom ? tokensFrom.all(fromSeq, limit).map((r) => ({ id: r.id, coversSeq: r.covers_seq, coversHash: r.covers_hash, token: r.token })) : [],
    close: () => db.close(),
  };
}
