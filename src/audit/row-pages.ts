import type Database from 'better-sqlite3';
import { isUtf8 } from 'node:buffer';
import { isAscii } from './describe-value.js';
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

// A page's rows. Pages are read only where every seq is an integer (`seqIsStrictInteger`), so a
// range's pages hold exactly its rows.
const PAGE_WHERE = 'seq >= @first AND seq <= @last ORDER BY seq';

// One row per page: the page's columns joined (every aggregate steps through the rows in the same
// order), from at most one row more than the page can hold (so no number of repeated seqs makes a
// page large). Rows of another form drop out of the joined columns, which then fall short; `cutPage`
// checks the rest, once a page: an ORDER BY inside each aggregate, or a GLOB on each hash, cost more
// than the rest of the page. Each row's forms are found once, in the inner query (its LIMIT keeps
// SQLite from folding it into the aggregate, which would find the body's twice). The chain ids must
// be text equal byte for byte (compared by BINARY, so no column collation can make two ids equal).
const PAGE_SQL = `
SELECT
  sum(typeof(chain_id) = 'text') = count(*) AND min(chain_id COLLATE BINARY) = max(chain_id COLLATE BINARY),
  min(chain_id),
  group_concat(seq_int, ','),
  group_concat(prev_64, ''),
  group_concat(hash_64, ''),
  CAST(group_concat(CASE WHEN body_length IS NOT NULL THEN body END, '') AS BLOB),
  group_concat(body_length, ',')
FROM (
  SELECT
    chain_id,
    CASE WHEN typeof(seq) = 'integer' THEN seq END AS seq_int,
    CASE WHEN ${hashForm('prev_hash')} THEN prev_hash END AS prev_64,
    CASE WHEN ${hashForm('hash')} THEN hash END AS hash_64,
    CASE WHEN ${BODY_FORM} THEN octet_length(body) END AS body_length,
    body
  FROM audit_entries WHERE ${PAGE_WHERE} LIMIT @count + 1)`;

// Each row on its own: the pages that do not fit, read as they are stored. A text body is read as
// its bytes; a body of another type (possible only in a table rebuilt without STRICT) is NULL here.
const ROW_COLUMNS = "seq, chain_id, prev_hash, hash, CASE WHEN typeof(body) = 'text' THEN CAST(body AS BLOB) END";
const ROW_SQL = `SELECT ${ROW_COLUMNS} FROM audit_entries WHERE ${PAGE_WHERE}`;
// A whole range where pages are not read: one statement, as the fast proof always read it.
const RANGE_SQL = `SELECT ${ROW_COLUMNS} FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq`;

/** Rows a page holds at most: about a megabyte of bodies at the ledger's usual sizes. */
export const ROWS_PER_PAGE = 500;

interface PageBounds {
  first: number;
  last: number;
}

interface Statements {
  /** Null where the table's seqs may be other than integers: the range is then read as one statement. */
  page: Database.Statement<[PageBounds & { count: number }], PageRow> | null;
  rows: Database.Statement<[PageBounds], RawRow>;
  range: Database.Statement<[number, number], RawRow>;
}

const statements = new WeakMap<Database.Database, Statements>();

function statementsOf(db: Database.Database): Statements {
  let st = statements.get(db);
  if (!st) {
    st = {
      page: seqIsStrictInteger(db) ? db.prepare<[PageBounds & { count: number }], PageRow>(PAGE_SQL).raw(true) : null,
      rows: db.prepare<[PageBounds], RawRow>(ROW_SQL).raw(true),
      range: db.prepare<[number, number], RawRow>(RANGE_SQL).raw(true),
    };
    statements.set(db, st);
  }
  return st;
}

/**
 * True when audit_entries is a STRICT table whose seq column is INTEGER (as the ledger makes it):
 * every seq is then an integer, compared as a number. In a table rebuilt otherwise a seq may be a
 * real number, or text the bounds are compared to as text, whose order is not the pages' order.
 */
function seqIsStrictInteger(db: Database.Database): boolean {
  const table = db.prepare<[], { strict: number; type: string }>("SELECT strict, type FROM pragma_table_list WHERE schema = 'main' AND name = 'audit_entries'").get();
  const seq = db.prepare<[], { type: string }>("SELECT type FROM pragma_table_info('audit_entries') WHERE name = 'seq'").get();
  return table?.type === 'table' && table.strict === 1 && (seq?.type === 'INTEGER' || seq?.type === 'INT');
}

/**
 * Reads rows `from`..`to` of a ledger file in seq order, their bodies as the bytes they are stored
 * as, for the fast proof, a page at a time: exactly the rows one statement over the range reads.
 * A page of rows is one statement step that joins its columns (better-sqlite3 makes a new Buffer
 * for every BLOB it returns, the largest part of reading a row one at a time); a page whose rows
 * cannot be cut again exactly (`cutRowPage`) is read a row at a time instead, so every row comes as
 * it is stored either way.
 */
export function* readRowPages(db: Database.Database, from: number, to: number, rowsPerPage = ROWS_PER_PAGE): Generator<Iterable<StoredRowBytes>> {
  checkBounds(from, to, rowsPerPage);
  if (statementsOf(db).page === null) {
    yield wholeRange(db, from, to);
    return;
  }
  for (let first = from; first <= to; first += rowsPerPage) {
    const bounds = { first, last: Math.min(to, first + rowsPerPage - 1) };
    yield cutPage(db, bounds) ?? rowByRow(db, bounds);
  }
}

/** A page's rows one statement step each; the statement runs only once the page is read. */
function* rowByRow(db: Database.Database, bounds: PageBounds): Generator<StoredRowBytes> {
  yield* storedRows(statementsOf(db).rows.iterate(bounds));
}

/** The range as one statement reads it, where pages are not read. */
function* wholeRange(db: Database.Database, from: number, to: number): Generator<StoredRowBytes> {
  yield* storedRows(statementsOf(db).range.iterate(from, to));
}

function* storedRows(rows: Iterable<RawRow>): Generator<StoredRowBytes> {
  for (const [seq, chain_id, prev_hash, hash, bodyUtf8] of rows) yield { seq, chain_id, prev_hash, hash, bodyUtf8 };
}

/** Integer bounds a page can move through: anything else would read rows the range does not name, or never end. */
function checkBounds(from: number, to: number, rowsPerPage: number): void {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || !Number.isSafeInteger(rowsPerPage) || rowsPerPage < 1 || to > Number.MAX_SAFE_INTEGER - rowsPerPage) {
    throw new RangeError(`row pages need safe integer bounds and a positive page size (from ${from}, to ${to}, ${rowsPerPage} rows a page)`);
  }
}

/**
 * Rows `first`..`last` cut from their page's joined columns, or undefined when they cannot be cut
 * exactly: a table whose seqs may be other than integers, a missing or repeated seq, a value of
 * another type or form, two chains.
 */
export function cutRowPage(db: Database.Database, first: number, last: number): StoredRowBytes[] | undefined {
  checkBounds(first, last, 1);
  return cutPage(db, { first, last });
}

/**
 * The page's rows cut from its joined columns, or undefined when they cannot be cut exactly: the
 * seqs must be each integer of the page, in order, and every value of its form (none dropped out),
 * and the hashes ASCII (each hash's 64 bytes are then 64 characters of the joined text; a byte that
 * is not ASCII reads as a character that is not). The bodies are checked as UTF-8 once a page: when
 * their joined bytes are well-formed and no body starts inside a character (on a continuation
 * byte), each body is well-formed on its own. A page that is not is read row by row, and each body
 * is checked alone.
 */
function cutPage(db: Database.Database, bounds: PageBounds): StoredRowBytes[] | undefined {
  const { first } = bounds;
  const count = bounds.last - first + 1;
  const page = statementsOf(db).page;
  if (page === null) return undefined;
  const [oneChain, chainId, seqs, prevHashes, hashes, bodies, bodyLengths] = page.get({ ...bounds, count })!;
  if (oneChain !== 1 || chainId === null || seqs === null || prevHashes === null || hashes === null || bodies === null || bodyLengths === null) return undefined;
  if (seqs !== joinedSeqs(first, count) || !isUtf8(bodies)) return undefined;
  const lengths = bodyLengths.split(',');
  if (lengths.length !== count) return undefined;
  if (prevHashes.length !== count * HASH_HEX || hashes.length !== count * HASH_HEX || !isAscii(prevHashes) || !isAscii(hashes)) return undefined;
  const out = new Array<StoredRowBytes>(count);
  const { buffer, byteOffset } = bodies;
  let start = 0;
  for (let i = 0; i < count; i++) {
    const length = Number(lengths[i]);
    if (!(length <= bodies.length - start) || (start < bodies.length && (bodies[start]! & 0xc0) === 0x80)) return undefined;
    out[i] = {
      seq: first + i,
      chain_id: chainId,
      prev_hash: prevHashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX),
      hash: hashes.slice(i * HASH_HEX, (i + 1) * HASH_HEX),
      // A plain view, about a third of the cost of a Buffer's subarray.
      bodyUtf8: new Uint8Array(buffer, byteOffset + start, length),
      bodyWellFormed: true,
    };
    start += length;
  }
  return start === bodies.length ? out : undefined;
}

/** Seqs `first`.. (`count` of them) joined as the page joins them. */
function joinedSeqs(first: number, count: number): string {
  let text = String(first);
  for (let seq = first + 1; seq < first + count; seq++) text += ',' + seq;
  return text;
}
