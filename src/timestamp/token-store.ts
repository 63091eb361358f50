import { FlaggateError } from '../errors.js';
import { refuseEditsSqlite } from '../sqlite-append-only.js';
import { openDurableSqlite } from '../sqlite-durable.js';

/** One stored token and the entry it covers (and, through the chain, every entry before it). */
export interface StoredToken {
  id: number;
  coversSeq: number;
  coversHash: string;
  genTime: string;
  tsa: string;
  token: Buffer;
}

export interface TokenStore {
  /** Appends one token in its own committed transaction; durable on return. */
  add(t: Omit<StoredToken, 'id'>): StoredToken;
  /** The earliest token whose coversSeq is at or after `seq`: it covers `seq` through the chain. */
  coveringToken(seq: number): StoredToken | undefined;
  /** `coveringToken`'s id and coversSeq only: what every change's coverage check needs, without reading the token. */
  covering(seq: number): { id: number; coversSeq: number } | undefined;
  all(): StoredToken[];
  latest(): StoredToken | undefined;
  close(): void;
}

const schema = `
CREATE TABLE IF NOT EXISTS timestamp_tokens (
  id          INTEGER PRIMARY KEY,
  covers_seq  INTEGER NOT NULL UNIQUE,
  covers_hash TEXT NOT NULL,
  gen_time    TEXT NOT NULL,
  tsa         TEXT NOT NULL,
  token       BLOB NOT NULL
);
${refuseEditsSqlite('timestamp_tokens')}
`;

interface Row {
  id: number;
  covers_seq: number;
  covers_hash: string;
  gen_time: string;
  tsa: string;
  token: Buffer;
}

const toToken = (r: Row): StoredToken => ({ id: r.id, coversSeq: r.covers_seq, coversHash: r.covers_hash, genTime: r.gen_time, tsa: r.tsa, token: r.token });

/** Opens its own connection on the ledger file (WAL, synchronous=FULL) and the append-only token table. */
export function openTokenStore(sqlitePath: string): TokenStore {
  const db = openDurableSqlite(sqlitePath);
  db.exec(schema);
  const insert = db.prepare('INSERT INTO timestamp_tokens (covers_seq, covers_hash, gen_time, tsa, token) VALUES (?, ?, ?, ?, ?)');
  const covering = db.prepare<[number], Row>('SELECT * FROM timestamp_tokens WHERE covers_seq >= ? ORDER BY covers_seq LIMIT 1');
  const coveringId = db.prepare<[number], { id: number; covers_seq: number }>('SELECT id, covers_seq FROM timestamp_tokens WHERE covers_seq >= ? ORDER BY covers_seq LIMIT 1');
  const all = db.prepare<[], Row>('SELECT * FROM timestamp_tokens ORDER BY covers_seq');
  const latest = db.prepare<[], Row>('SELECT * FROM timestamp_tokens ORDER BY covers_seq DESC LIMIT 1');
  return {
    add(t) {
      try {
        const info = insert.run(t.coversSeq, t.coversHash, t.genTime, t.tsa, t.token);
        return { id: Number(info.lastInsertRowid), ...t };
      } catch (err) {
        throw new FlaggateError('AUDIT_WRITE_FAILED', `could not store the token covering seq ${t.coversSeq}`, { cause: err, details: { seq: t.coversSeq } });
      }
    },
    coveringToken: (seq) => {
      const r = covering.get(seq);
      return r ? toToken(r) : undefined;
    },
    covering: (seq) => {
      const r = coveringId.get(seq);
      return r ? { id: r.id, coversSeq: r.covers_seq } : undefined;
    },
    all: () => all.all().map(toToken),
    latest: () => {
      const r = latest.get();
      return r ? toToken(r) : undefined;
    },
    close: () => db.close(),
  };
}
