import { fc, test as propTest } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chainHash, GENESIS_HASH, openLedger, openLedgerReader, verifyChain, type ProveRange, type StoredRow, type TrustedHead, type VerifyOptions } from '../../src/audit/index.js';
import { rowLinks } from '../../src/audit/classify-break.js';
import { proveSplit, splitRange } from '../../src/audit/prove-in-workers.js';
import { provesLink } from '../../src/audit/prove-link.js';
import { proveRows } from '../../src/audit/prove-range.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry, tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const COUNT = 40;
let pristine: StoredRow[] = [];
let cleanup = () => {};

beforeAll(() => {
  const tmp = makeTempDir();
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'par', clock: fixedClock(Date.UTC(2026, 5, 1)) });
  ledger.appendMany(Array.from({ length: COUNT }, (_, i) => sampleEntry(i + 1)));
  pristine = ledger.rowsAfter(0, COUNT);
  ledger.close();
  cleanup = tmp.cleanup;
});
afterAll(() => cleanup());

const readFrom = (rows: StoredRow[]) => (after: number, limit: number) => rows.filter((r) => r.seq > after).slice(0, limit);

/** The worker prover's logic over rows in memory: split, prove each range on its own, stitch. */
function proveInMemory(rows: StoredRow[], workers: number): ProveRange {
  const last = () => rows.at(-1)?.seq ?? 0;
  return proveSplit(last, { workers, minRowsPerWorker: 1 }, async (range) => proveRows(rows.filter((r) => r.seq >= range.from && r.seq <= range.to), range));
}

/** Tampering as it looks in stored order (rows sorted by seq, as every reader returns them). */
const edits = {
  byte: (rows: StoredRow[], i: number, n: number) => {
    const column = (['body', 'hash', 'prev_hash', 'chain_id'] as const)[n % 4]!;
    const value = rows[i]![column];
    const at = n % value.length;
    rows[i] = { ...rows[i]!, [column]: value.slice(0, at) + String.fromCharCode((value.charCodeAt(at) ^ ((n % 126) + 1)) || 0x21) + value.slice(at + 1) };
  },
  delete: (rows: StoredRow[], i: number) => void rows.splice(i, 1),
  renumber: (rows: StoredRow[], i: number) => {
    rows.splice(i, 1);
    for (let k = i; k < rows.length; k += 1) rows[k] = { ...rows[k]!, seq: rows[k]!.seq - 1 };
  },
  swap: (rows: StoredRow[], i: number) => {
    const j = Math.min(i + 1, rows.length - 1);
    const [a, b] = [rows[i]!, rows[j]!];
    rows[i] = { ...b, seq: a.seq };
    rows[j] = { ...a, seq: b.seq };
  },
  insert: (rows: StoredRow[], i: number, n: number) => {
    const copy = pristine[n % pristine.length]!;
    rows.splice(i, 0, { ...copy, seq: rows[i]!.seq, hash: 'f'.repeat(64) });
    for (let k = i + 1; k < rows.length; k += 1) rows[k] = { ...rows[k]!, seq: rows[k]!.seq + 1 };
  },
  chain: (rows: StoredRow[], i: number) => {
    for (let k = i; k < rows.length; k += 1) rows[k] = { ...rows[k]!, chain_id: 'other' };
  },
  cut: (rows: StoredRow[], i: number) => void rows.splice(i),
  /** An edit whose own hash was recomputed: only the next link shows it. */
  rewrite: (rows: StoredRow[], i: number) => {
    const body = rows[i]!.body.replace(/"change \d+"/, '"change X"');
    rows[i] = { ...rows[i]!, body, hash: chainHash(rows[i]!.prev_hash, body) };
  },
  /** Rows moved to another chain (one, or all from i), every hash after recomputed so that the links hold. */
  rechain: (rows: StoredRow[], i: number, n: number) => {
    for (let k = i; k < (n % 2 ? i + 1 : rows.length); k += 1) {
      rows[k] = { ...rows[k]!, chain_id: 'other', body: rows[k]!.body.replace('"chain_id":"par"', '"chain_id":"other"') };
    }
    reseal(rows, i);
  },
  /** A body field (seq, prev_hash or chain_id) that disagrees with its column, in a chain whose hashes were all recomputed. */
  forge: (rows: StoredRow[], i: number, n: number) => {
    const row = rows[i]!;
    const forged = [`"seq":${row.seq + 100}`, `"prev_hash":"${'d'.repeat(64)}"`, '"chain_id":"other"'][n % 3]!;
    rows[i] = { ...row, body: row.body.replace([`"seq":${row.seq}`, `"prev_hash":"${row.prev_hash}"`, '"chain_id":"par"'][n % 3]!, forged) };
    reseal(rows, i);
  },
};

/** Recomputes prev_hash and hash from row i on, as someone holding the ledger file could. */
function reseal(rows: StoredRow[], i: number): void {
  for (let k = i; k < rows.length; k += 1) {
    const prev = k === 0 ? rows[k]!.prev_hash : rows[k - 1]!.hash;
    const body = rows[k]!.body.replace(`"prev_hash":"${rows[k]!.prev_hash}"`, `"prev_hash":"${prev}"`);
    rows[k] = { ...rows[k]!, prev_hash: prev, body, hash: chainHash(prev, body) };
  }
}

describe('verifyChain with ranges proven apart', () => {
  it('splits a range into consecutive parts, one per worker, none when too short', () => {
    expect(splitRange(1, 10, { workers: 3, minRowsPerWorker: 1 })).toEqual([{ from: 1, to: 4 }, { from: 5, to: 8 }, { from: 9, to: 10 }]);
    expect(splitRange(1, 10, { workers: 4, minRowsPerWorker: 5 })).toEqual([{ from: 1, to: 5 }, { from: 6, to: 10 }]);
    expect(splitRange(1, 4, { workers: 4, minRowsPerWorker: 5 })).toEqual([]);
    expect(splitRange(5, 4, { workers: 2, minRowsPerWorker: 1 })).toEqual([]);
  });

  propTest.prop(
    [fc.constantFrom(...(Object.keys(edits) as Array<keyof typeof edits>)), fc.nat({ max: COUNT - 1 }), fc.nat(), fc.integer({ min: 1, max: 7 }), fc.boolean(), fc.nat({ max: 12 })],
    { numRuns: 400 },
  )('reports exactly what the row-by-row check reports, wherever the ranges split (tampering at a range edge included)', async (kind, at, n, workers, trustHead, from) => {
    const rows = pristine.map((r) => ({ ...r }));
    edits[kind](rows, at, n);
    const options: VerifyOptions = {
      batchSize: 5,
      ...(trustHead ? { trusted: [{ seq: COUNT, hash: pristine.at(-1)!.hash, source: 'checkpoint' }] } : {}),
      ...(from > 1 ? { from, ...(n % 2 ? { anchor: { seq: from - 1, hash: pristine[from - 2]!.hash } } : {}) } : {}),
    };
    // The fast proof never accepts a row the full check refuses (it runs on both sides below).
    rows.forEach((row, k) => {
      const prev = k === 0 ? { seq: 0, hash: GENESIS_HASH } : { seq: rows[k - 1]!.seq, hash: rows[k - 1]!.hash };
      if (provesLink(row, prev)) expect(rowLinks(row, prev)).toBe(true);
    });
    const alone = await verifyChain(readFrom(rows), options);
    const split = await verifyChain(readFrom(rows), { ...options, prove: proveInMemory(rows, workers) });
    expect(split).toEqual(alone);
  });

  it.each([
    ['the first row of the second range', 21],
    ['the last row of the first range', 20],
    ['the first row of all', 1],
    ['the last row of all', 40],
  ])('names a tampered row at %s with its seq', async (_where, seq) => {
    const rows = pristine.map((r) => ({ ...r }));
    const i = rows.findIndex((r) => r.seq === seq);
    rows[i] = { ...rows[i]!, body: rows[i]!.body.replace(`change ${seq}"`, `change X"`) };
    const report = await verifyChain(readFrom(rows), { prove: proveInMemory(rows, 2) });
    expect(report.failure).toMatchObject({ seq, kind: 'modified' });
    expect(report.head.seq).toBe(seq - 1);
  });

  it('joins no range whose first row does not link to the last proven row', async () => {
    const rows = pristine.map((r) => ({ ...r }));
    // Seq 21 rewritten with a self-consistent hash over another previous hash: it proves on its own, but does not link.
    const body = rows[20]!.body.replace(rows[20]!.prev_hash, 'e'.repeat(64));
    rows[20] = { ...rows[20]!, prev_hash: 'e'.repeat(64), body, hash: chainHash('e'.repeat(64), body) };
    let proven: TrustedHead | undefined;
    const prove = proveInMemory(rows, 2);
    const report = await verifyChain(readFrom(rows), { prove: async (r) => ((proven = (await prove(r))?.head), prove(r)) });
    expect(proven?.seq).toBe(20);
    expect(report.failure).toMatchObject({ seq: 21, kind: 'modified' });
  });
});

describe('provesLink over a body\'s stored bytes', () => {
  const asBytes = ({ body, ...row }: StoredRow, bytes = Buffer.from(body, 'utf8')) => ({ ...row, bodyUtf8: bytes });
  const prevOf = (k: number): TrustedHead => (k === 0 ? { seq: 0, hash: GENESIS_HASH } : { seq: pristine[k - 1]!.seq, hash: pristine[k - 1]!.hash });

  it('proves every untouched row from its bytes as from its text, and no row from a NULL body', () => {
    pristine.forEach((row, k) => {
      expect(provesLink(asBytes(row), prevOf(k))).toBe(true);
      expect(provesLink(row, prevOf(k))).toBe(true);
    });
    expect(provesLink({ ...asBytes(pristine[0]!), bodyUtf8: null }, prevOf(0))).toBe(false);
  });

  it('proves no row with a NULL column, even one a range starts at (taken at its own prev_hash), and does not throw', () => {
    const row = asBytes(pristine[4]!);
    for (const column of ['prev_hash', 'chain_id', 'hash'] as const) {
      const nulled = { ...row, [column]: null as unknown as string };
      expect(provesLink(nulled, column === 'prev_hash' ? { seq: 4, hash: null as unknown as string } : prevOf(4))).toBe(false);
    }
    expect(proveRows([{ ...pristine[4]!, prev_hash: null as unknown as string }], { from: 5, to: 5, chainId: null, trusted: new Map() })).toBeUndefined();
  });

  propTest.prop([fc.nat({ max: COUNT - 1 }), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 3 }), fc.nat({ max: 3 })], { numRuns: 1000 })(
    'never proves bytes whose text the full check refuses, nor bytes that are not that text\'s UTF-8',
    (k, at, insert, cut) => {
      const bytes = Buffer.from(pristine[k]!.body, 'utf8');
      const i = at % (bytes.length + 1);
      const edited = Buffer.concat([bytes.subarray(0, i), insert, bytes.subarray(i + cut)]);
      if (!provesLink(asBytes(pristine[k]!, edited), prevOf(k))) return;
      const text = edited.toString('utf8');
      expect(Buffer.from(text, 'utf8').equals(edited)).toBe(true);
      expect(rowLinks({ ...pristine[k]!, body: text }, prevOf(k))).toBe(true);
    },
  );
});

describe('proving ranges of a ledger file in worker threads', () => {
  const ledgerFile = () => {
    const tmp = makeTempDir();
    const path = `${tmp.dir}/ledger.sqlite`;
    const ledger = openLedger({ path, chainId: 'par', clock: fixedClock(Date.UTC(2026, 5, 1)) });
    ledger.appendMany(Array.from({ length: COUNT }, (_, i) => sampleEntry(i + 1)));
    ledger.close();
    return { path, cleanup: tmp.cleanup };
  };

  it('proves an untouched file in two ranges and reports the same as the row-by-row check', async () => {
    const { path, cleanup: done } = ledgerFile();
    const reader = openLedgerReader(path);
    try {
      let proven: number | undefined;
      const prove = reader.prove({ workers: 2, minRowsPerWorker: 1 });
      const report = await verifyChain(reader.read, { prove: async (r) => { const p = await prove(r); proven = p?.head.seq; return p; } });
      expect(proven).toBe(COUNT);
      expect(report).toEqual(await verifyChain(reader.read));
      expect(report).toMatchObject({ ok: true, entries: COUNT, chainId: 'par' });
    } finally {
      reader.close();
      done();
    }
  }, 60_000);

  it.each([
    ['an edited body at the first row of the second range', "UPDATE audit_entries SET body = replace(body, 'change 21\"', 'change X\"') WHERE seq = 21", { seq: 21, kind: 'modified' }],
    ['a deleted row at the end of the first range', 'DELETE FROM audit_entries WHERE seq = 20', { seq: 20, kind: 'deleted' }],
    // The workers read the body as its bytes, the row-by-row check as the text better-sqlite3 decodes (U+FFFD for the bad byte).
    ['a body whose bytes are not UTF-8', "UPDATE audit_entries SET body = CAST(replace(CAST(body AS BLOB), CAST('change 21' AS BLOB), X'6368616e6765ff3231') AS TEXT) WHERE seq = 21", { seq: 21 }],
  ])('reports %s as the row-by-row check does', async (_name, sql, expected) => {
    const { path, cleanup: done } = ledgerFile();
    const reader = openLedgerReader(path);
    try {
      expect(tamper(path, sql)).toBe(1);
      const report = await verifyChain(reader.read, { prove: reader.prove({ workers: 2, minRowsPerWorker: 1 }) });
      expect(report.failure).toMatchObject(expected);
      expect(report).toEqual(await verifyChain(reader.read));
    } finally {
      reader.close();
      done();
    }
  }, 60_000);
});
