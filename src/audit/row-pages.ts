import type Database from 'better-sqlite3';
import type { StoredRowBytes } from './prove-link.js';

type RawRow = [StoredRowBytes['seq'], StoredRowBytes['chain_id'], StoredRowBytes['prev_hash'], StoredRowBytes['hash'], Buffer | null];

type PageRow = [oneChain: number | null, chainId: string | null, seqs: string | null, prevHashes: string | null, hashes: string | null, bodies: Buffer | null, bodyLengths: string | null];

const HASH_HEX = 64;

/** A body longer than this puts its page on the row-at-a-time path: a page holds at most 500 × 16 KiB of bodies. */
const PAGE_BODY_BYTES = 16 * 1024;

// A value of the form a page joins: a hash, a previous hash, a body. Only these are joined, so a
// page's joined columns stay small whatever a row holds.
const hashForm = (column: string) => `typeof(${column}) = 'text' AND octet_length(${column}) = ${HASH_HEX}`;
const BODY_FORM = `typeof(body) = 'text' AND octet_length(body) <= ${PAGE_BODY_BYTES}`;

// One row per page: the page's columns joined (every aggregate steps through the rows in the same
// order). Rows of another form drop out of the joined columns, which then fall short; `cutPage`
// checks the rest, once a page: an ORDER BY inside each aggregate, or a GLOB on each hash, cost more
// than the rest of the page. The chain ids must be text equal byte for byte (compared by BINARY,
// so no column collation can make two ids equal).
const PAGE_SQL = `
SELECT
  sum(typeof(chain_id) = 'text') = count(*) AND min(chain_id COLLATE BINARY) = max(chain_id COLLATE BINARY),
  min(chain_id),
  group_concat(seq, ','),
  group_concat(CASE WHEN ${hashForm('prev_hash')} THEN prev_hash END, ''),
  group_concat(CASE WHEN ${hashForm('hash')} THEN hash END, ''),
  CAST(group_concat(CASE WHEN ${BODY_FORM} THEN body END, '') AS BLOB),
  group_concat(CASE WHEN ${BODY_FORM} THEN octet_length(body) END, ',')
FROM (SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq >= @first AND seq <= @last ORDER BY seq)`;

// Each row on its own: the pages that do not fit, read as they are stored. A text body is read as
// its bytes; a body of another type (possible only in a table rebuilt without STRICT) is NULL here.
const ROW_SQL =
  "SELECT seq, chain_id, prev_hash, hash, CASE WHEN typeof(body) = 'text' THEN CAST(body AS BLOB) END FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq";

/** Rows a page holds at most: about a megabyte of bodies at the ledger's usual sizes. */
export const ROWS_PER_PAGE = 500;

const statements = new WeakMap<Database.Database, { page: Database.Statement<[PageBounds], PageRow>; rows: Database.Statement<[number, number], RawRow> }>();

interface PageBounds {
  first: number;
  last: number;
}

function statementsOf(db: Database.Database) {
  let st = statements.get(db);
  if (!st) {
    st = { page: db.prepare<[PageBounds], PageRow>(PAGE_SQL).raw(true), rows: db.prepare<[number, number], RawRow>(ROW_SQL).raw(true) };
    statements.set(db, st);
  }
  return st;
}

/**
 * Reads rows `from`..`to` of a ledger file in seq order, their bodies as the bytes they are stored
 * as, for the fast proof, a page at a time. A page of rows is one statement step that joins its
 * columns (better-sqlite3 makes a new Buffer for every BLOB it returns, the largest part of reading a
 * row one at a time); a page whose rows cannot be cut again exactly (`cutRowPage`) is read a row at
 * a time instead, so every row comes as it is stored either way.
 */
export function* readRowPages(db: Database.Database, from: number, to: number, rowsPerPage = ROWS_PER_PAGE): Generator<Iterable<StoredRowBytes>> {
  for (let first = from; first <= to; first += rowsPerPage) {
    const last = Math.min(to, first + rowsPerPage - 1);
    yield cutRowPage(db, first, last) ?? rowByRow(db, first, last);
  }
}

function* rowByRow(db: Database.Database, first: number, last: number): Generator<StoredRowBytes> {
  for (const [seq, chain_id, prev_hash, hash, bodyUtf8] of statementsOf(db).rows.iterate(first, last)) yield { seq, chain_id, prev_hash, hash, bodyUtf8 };
}

/**
 * Rows `first`..`last` cut from their page's joined columns, or undefined when they cannot be cut
 * exactly: a missing or repeated seq, a value of another type or form, two chains.
 */
export function cutRowPage(db: Database.Database, first: number, last: number): StoredRowBytes[] | undefined {
  return cutPage(first, last, statementsOf(db).page.get({ first, last })!);
}

/**
 * The page's rows cut from its joined columns, or undefined when they cannot be cut exactly: the
 * seqs must be `first`..`last` in order (each an integer: a real one reads otherwise), every value
 * of its form (none dropped out), and the hashes ASCII (each hash's 64 bytes are then 64 characters
 * of the joined text; a byte that is not ASCII reads as a character that is not).
 */
function cutPage(first: number, last: number, [oneChain, chainId, seqs, prevHashes, hashes, bodies, bodyLengths]: PageRow): StoredRowBytes[] | undefined {
  if (oneChain !== 1 || chainId === null || seqs === null || prevHashes === null || hashes === null || bodies === null || bodyLengths === null) return undefined;
  const count = last - first + 1;
  const seqList = seqs.split(',');
  const lengths = bodyLengths.split(',');
  if (seqList.length !== count || lengths.length !== count) return undefined;
  if (prevHashes.length !== count * HASH_HEX || hashes.length !== count * HASH_HEX || !isAscii(prevHashes) || !isAscii(hashes)) return undefined;
  const out = new Array<StoredRowBytes>(count);
  let start = 0;
  for (let i = 0; i < count; i++) {
    const seq = first + i;
    if (seqList[i] !== String(seq)) return undefined;
    const end = start + Number(lengths[i]);
    out[i] = {
      seq,
      chain_id: chainId,
      prev_hash: prevHashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX),
      hash: hashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX),
      bodyUtf8: bodies.subarray(start, end),
    };
    start = end;
  }
  return start === bodies.length ? out : undefined;
}

/** True when every character is ASCII: its UTF-8 is then one byte a character. */
function isAscii(text: string): boolean {
  return Buffer.byteLength(text, 'utf8') === text.length;
}
