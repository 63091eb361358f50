import { fc, test as propTest } from '@fast-check/vitest';
import Database from 'better-sqlite3';
import { isUtf8 } from 'node:buffer';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/audit/index.js';
import { cutRowPage, readRowPages } from '../../src/audit/row-pages.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

type Plain = [unknown, unknown, unknown, unknown, string | null];

/** The rows as the fast proof read them before pages: one statement step a row. */
function oneAtATime(db: Database.Database, from: number, to: number): Plain[] {
  const rows = db
    .prepare("SELECT seq, chain_id, prev_hash, hash, CASE WHEN typeof(body) = 'text' THEN CAST(body AS BLOB) END FROM audit_entries WHERE seq >= ? AND seq <= ? ORDER BY seq")
    .raw(true)
    .all(from, to) as Array<[unknown, unknown, unknown, unknown, Buffer | null]>;
  return rows.map(([seq, chain, prev, hash, body]) => [seq, chain, prev, hash, body === null ? null : body.toString('hex')]);
}

/** The rows as pages give them; a body said to be well-formed UTF-8 must be. */
function paged(db: Database.Database, from: number, to: number, rowsPerPage: number): Plain[] {
  const rows = [...readRowPages(db, from, to, rowsPerPage)].flatMap((page) => [...page]);
  for (const r of rows) if (r.bodyWellFormed === true) expect(r.bodyUtf8 !== null && isUtf8(r.bodyUtf8)).toBe(true);
  return rows.map((r) => [r.seq, r.chain_id, r.prev_hash, r.hash, r.bodyUtf8 === null ? null : Buffer.from(r.bodyUtf8).toString('hex')]);
}

const COUNT = 30;
const tmp = makeTempDir();
// Made as the test file loads: the cases below are built from its rows.
const real = ((path: string) => {
  const ledger = openLedger({ path, chainId: 'pages', clock: fixedClock(Date.UTC(2026, 5, 1)) });
  // Bodies with characters of every UTF-8 length: one, two, three and four bytes.
  ledger.appendMany(Array.from({ length: COUNT }, (_, i) => sampleEntry(i + 1, { reason: ['plain', 'café', '変更', '🚩 flag'][i % 4]!.repeat(i) })));
  ledger.close();
  return new Database(path, { readonly: true });
})(`${tmp.dir}/ledger.sqlite`);

afterAll(() => {
  real.close();
  tmp.cleanup();
});

interface TableShape {
  collation?: string;
  /** Run once the rows are in. */
  sql?: string;
  /** seq's declared type; INTEGER in a STRICT table is what the ledger makes, and what pages are read for. */
  seqType?: string;
  strict?: boolean;
}

/**
 * An audit_entries table as a hostile file could hold it: no key, any collation, the other columns
 * of any type (ANY in a STRICT table, no type otherwise), seq INTEGER and STRICT unless told.
 */
function hostileTable(rows: ReadonlyArray<readonly unknown[]>, { collation = 'BINARY', sql, seqType = 'INTEGER', strict = true }: TableShape = {}): Database.Database {
  const db = new Database(':memory:');
  const any = `${strict ? 'ANY ' : ''}COLLATE ${collation}`;
  db.exec(`CREATE TABLE audit_entries (seq ${seqType}, chain_id ${any}, prev_hash ${any}, hash ${any}, body ${any})${strict ? ' STRICT' : ''}`);
  const insert = db.prepare('INSERT INTO audit_entries VALUES (?, ?, ?, ?, ?)');
  // A row a STRICT table refuses (a real seq) is not in it.
  for (const row of rows) {
    try {
      insert.run(...row);
    } catch (err) {
      if (!strict) throw err;
    }
  }
  if (sql !== undefined) db.exec(sql);
  return db;
}

function realRows(): unknown[][] {
  return real.prepare('SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries ORDER BY seq').raw(true).all() as unknown[][];
}

const hex = (c: string) => c.repeat(64);

describe('reading a ledger file in pages', () => {
  it('reads every row of a ledger as one statement step a row does, whole pages cut from the joined columns', () => {
    for (const [from, to, page] of [[1, COUNT, 7], [1, COUNT, 500], [5, 23, 4], [12, 12, 1], [3, 9, 100]] as const) {
      expect(paged(real, from, to, page)).toEqual(oneAtATime(real, from, to));
      expect(cutRowPage(real, from, to)).toHaveLength(to - from + 1);
    }
  });

  it('reads a page that runs past the last row a row at a time, and nothing beyond it', () => {
    expect(cutRowPage(real, COUNT - 2, COUNT + 5)).toBeUndefined();
    expect(paged(real, COUNT - 2, COUNT + 5, 10)).toEqual(oneAtATime(real, COUNT - 2, COUNT + 5));
  });

  const change = (seq: number, column: number, value: unknown) => realRows().map((r) => (r[0] === seq ? r.map((v, i) => (i === column ? value : v)) : r));
  const cases: Array<[string, unknown[][], TableShape?]> = [
    ['a missing seq', realRows().filter((r) => r[0] !== 6)],
    ['a repeated seq', [...realRows(), realRows()[5]!]],
    ['a repeated seq in place of a missing one', change(6, 0, 7)],
    ['a row of another chain', change(6, 1, 'other')],
    ['a chain id equal to the others only under NOCASE', change(6, 1, 'PAGES'), { collation: 'NOCASE' }],
    ['a chain id equal to the others only under RTRIM', change(6, 1, 'pages '), { collation: 'RTRIM' }],
    ['a chain id that is a BLOB of the same bytes', change(6, 1, Buffer.from('pages'))],
    ['a hash of 64 bytes that are not ASCII', change(6, 3, 'é'.repeat(32))],
    ['a hash of 64 bytes of which one is not UTF-8', realRows(), { sql: `UPDATE audit_entries SET hash = CAST(X'${'61'.repeat(63)}ff' AS TEXT) WHERE seq = 6` }],
    ['a hash one character short beside one a character long', change(7, 3, `${realRows()[6]![3]}0`).map((r) => (r[0] === 6 ? [...r.slice(0, 3), String(r[3]).slice(0, 63), r[4]] : r))],
    ['a previous hash stored as a BLOB', change(6, 2, Buffer.from(hex('a')))],
    ['a NULL previous hash', change(6, 2, null)],
    ['a body stored as a BLOB', change(6, 4, Buffer.from('{"a":1}'))],
    ['a body stored as an integer', change(6, 4, 7)],
    ['a NULL body', change(6, 4, null)],
    ['a body over the page limit', change(6, 4, `{"a":"${'x'.repeat(20_000)}"}`)],
  ];

  it.each(cases)('reads the rows of a page with %s a row at a time, as stored', (_name, rows, shape) => {
    const db = hostileTable(rows, shape);
    try {
      expect(cutRowPage(db, 1, COUNT)).toBeUndefined();
      expect(paged(db, 1, COUNT, COUNT)).toEqual(oneAtATime(db, 1, COUNT));
      // The pages without the row are cut as usual.
      expect(cutRowPage(db, 8, COUNT)).toHaveLength(COUNT - 7);
    } finally {
      db.close();
    }
  });

  it('cuts a page whose values are of the right form but odd (uppercase hex, NUL bytes, empty bodies) exactly as stored', () => {
    const rows = realRows().map((r) => {
      const seq = r[0] as number;
      if (seq === 3) return [seq, r[1], hex('A'), r[3], r[4]];
      if (seq === 4) return [seq, r[1], r[2], `${'\0'.repeat(2)}${hex('b').slice(2)}`, `{"a":"\0"}`];
      if (seq === 5) return [seq, r[1], r[2], r[3], ''];
      return r;
    });
    const db = hostileTable(rows);
    try {
      const cut = cutRowPage(db, 1, COUNT);
      expect(cut).toHaveLength(COUNT);
      expect(cut!.every((r) => r.bodyWellFormed === true)).toBe(true);
      expect(paged(db, 1, COUNT, COUNT)).toEqual(oneAtATime(db, 1, COUNT));
    } finally {
      db.close();
    }
  });

  it('reads a page row by row, each body checked alone, when its bodies are not UTF-8 or one starts inside a character', () => {
    const cases = [
      // A body whose bytes are not UTF-8, stored as text.
      "UPDATE audit_entries SET body = CAST(X'7b2261223a22ff227d' AS TEXT) WHERE seq = 6",
      // "é" (C3 A9) split between two bodies: joined, the bytes are well-formed; neither body is.
      "UPDATE audit_entries SET body = CAST(X'7b2261223a22c3' AS TEXT) WHERE seq = 6; UPDATE audit_entries SET body = CAST(X'a9227d' AS TEXT) WHERE seq = 7",
    ];
    for (const sql of cases) {
      const db = hostileTable(realRows(), { sql });
      try {
        expect(cutRowPage(db, 1, 10)).toBeUndefined();
        const rows = [...readRowPages(db, 1, 10, 10)].flatMap((page) => [...page]);
        expect(rows.filter((r) => r.bodyWellFormed === true)).toEqual([]);
        expect(paged(db, 1, COUNT, 10)).toEqual(oneAtATime(db, 1, COUNT));
        // The pages without those rows are cut as usual.
        expect(cutRowPage(db, 11, COUNT)).toHaveLength(COUNT - 10);
      } finally {
        db.close();
      }
    }
  });

  it('reads a table whose seqs may be other than integers as one statement over the range, and pages only a STRICT INTEGER seq', () => {
    const extra = (seq: unknown, k: number) => [seq, ...realRows()[k]!.slice(1)];
    const tables = [
      // Real seqs between two integers, and at a page's bound.
      hostileTable([...realRows(), extra(6.5, 5), extra(8.25, 7), extra(8, 7)], { strict: false }),
      // Seqs stored as text (their column's affinity): text compares to the bounds as text, in another order than the pages'.
      hostileTable([...realRows(), extra('2.0', 1)], { seqType: 'TEXT', strict: false }),
      hostileTable(realRows(), { seqType: 'TEXT', strict: false }),
      hostileTable(realRows(), { seqType: 'TEXT' }),
      hostileTable(realRows(), { strict: false }),
      // Many more rows at one seq than a page holds, in the table pages are read for.
      hostileTable([...realRows(), ...Array.from({ length: 40 }, () => realRows()[4]!)]),
    ];
    try {
      for (const db of tables) for (const page of [1, 3, 7, 10]) expect(paged(db, 1, COUNT, page)).toEqual(oneAtATime(db, 1, COUNT));
      // A seq stored as text is never read as the number it spells.
      expect(oneAtATime(tables[2]!, 1, 3).map((r) => r[0]).slice(0, 3)).toEqual(['1.0', '10.0', '11.0']);
      for (const db of tables.slice(0, -1)) expect(cutRowPage(db, 8, 9)).toBeUndefined();
      expect(cutRowPage(tables.at(-1)!, 8, 9)).toHaveLength(2);
    } finally {
      for (const db of tables) db.close();
    }
  });

  it('refuses bounds a page could not move through', () => {
    for (const [from, to, page] of [[0.5, 3, 1], [1, 2 ** 53, 1], [1, 3, 0], [1, Infinity, 10], [1, 3, 1.5]] as const) {
      expect(() => [...readRowPages(real, from, to, page)]).toThrow(RangeError);
    }
  });

  // Any column of any row replaced by a value of any type and form: whatever the pages give is what
  // the rows hold, row by row, and a page cut from joined columns is never one that should not be.
  const anyColumnValue = fc.oneof(
    fc.constant(null),
    fc.integer({ min: -3, max: COUNT + 3 }),
    fc.double({ noNaN: true }),
    fc.double({ min: 0, max: COUNT + 1, noNaN: true }),
    fc.integer({ min: 0, max: COUNT + 1 }).map(String),
    fc.string({ maxLength: 70, unit: 'binary' }),
    fc.stringMatching(/^[0-9a-fA-F]{62,66}$/),
    fc.uint8Array({ maxLength: 70 }).map((b) => Buffer.from(b)),
    fc.constantFrom('pages', 'PAGES', 'pages\0', ''),
  );
  propTest.prop([fc.array(fc.tuple(fc.integer({ min: 1, max: COUNT }), fc.integer({ min: 0, max: 4 }), anyColumnValue), { maxLength: 4 }), fc.integer({ min: 1, max: 12 }), fc.constantFrom('BINARY', 'NOCASE', 'RTRIM'), fc.constantFrom('INTEGER', 'TEXT', 'REAL', 'NUMERIC', ''), fc.boolean()], { numRuns: 400 })(
    'reads hostile tables as they are stored, page size, collation and seq type whatever they are',
    (edits, rowsPerPage, collation, seqType, strict) => {
      const rows = realRows();
      for (const [seq, column, value] of edits) rows[seq - 1]![column] = value;
      const db = hostileTable(rows, { collation, seqType: strict ? seqType.replace(/^(NUMERIC|)$/, 'ANY') : seqType, strict });
      try {
        expect(paged(db, 1, COUNT, rowsPerPage)).toEqual(oneAtATime(db, 1, COUNT));
      } finally {
        db.close();
      }
    },
  );

  // Bodies replaced by bytes stored as text: a well-formed text (characters of every UTF-8 length)
  // cut at any bytes, inside a character too, its pieces the bodies of consecutive seqs, so that
  // joined they are well-formed while a piece need not be; sometimes with bytes that are never
  // UTF-8 added. A page whose bodies are all well-formed is cut and says so; any other is read row
  // by row, and says nothing.
  const cutText = fc
    .tuple(fc.integer({ min: 1, max: COUNT }), fc.string({ unit: 'binary', minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 3 }), fc.option(fc.uint8Array({ minLength: 1, maxLength: 2 }), { nil: undefined }))
    .map(([first, text, cuts, junk]) => {
      const bytes = Buffer.from(text);
      const at = [0, ...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((x, y) => x - y);
      const pieces = at.map((start, i) => bytes.subarray(start, at[i + 1] ?? bytes.length));
      if (junk) pieces[junk[0]! % pieces.length] = Buffer.concat([pieces[junk[0]! % pieces.length]!, junk]);
      return [first, pieces] as const;
    });
  propTest.prop([fc.array(cutText, { maxLength: 3 }), fc.integer({ min: 1, max: 12 })], { numRuns: 300 })(
    'says a body is well-formed UTF-8 only when it is, whatever bytes the bodies hold',
    (edits, rowsPerPage) => {
      const sql = edits
        .flatMap(([first, bodies]) => bodies.map((bytes, i) => `UPDATE audit_entries SET body = CAST(X'${bytes.toString('hex')}' AS TEXT) WHERE seq = ${first + i};`))
        .join('\n');
      const db = hostileTable(realRows(), { sql });
      try {
        // `paged` holds every body said to be well-formed to it.
        expect(paged(db, 1, COUNT, rowsPerPage)).toEqual(oneAtATime(db, 1, COUNT));
      } finally {
        db.close();
      }
    },
  );
});
