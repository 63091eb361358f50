import { fc, test as propTest } from '@fast-check/vitest';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { countLines, fileLines, fileMatcher, jsonLines } from '../../src/audit/file-lines.js';
import type { StoredRow } from '../../src/audit/index.js';
import { chainRows, rowsFrom, timeOfBody } from '../../src/audit/verify-export-steps.js';
import { canonicalJson } from '../../src/audit/index.js';
import { rowLine } from '../../src/audit/export-lines.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-file-lines-');
afterAll(() => tmp.cleanup());
let files = 0;

const sha256 = (content: string | Buffer) => createHash('sha256').update(content).digest('hex');

function fileOf(content: string | Buffer): string {
  const path = join(tmp.dir, `f${(files += 1)}`);
  writeFileSync(path, content);
  return path;
}

describe('fileLines', () => {
  // Lines of multi-byte characters, newlines and blank lines, read with chunks of a few bytes, so
  // chunk edges fall inside characters, at newlines and inside lines longer than a chunk.
  const text = fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\n', '\r', '"', ' '), maxLength: 200 });
  propTest.prop([text, fc.integer({ min: 1, max: 9 })], { numRuns: 300 })('gives the lines of the whole file split at newlines, whatever the chunk size', (content, chunkBytes) => {
    const path = fileOf(content);
    expect([...fileLines(path, chunkBytes)]).toEqual(content.split('\n').filter((l) => l !== ''));
  });

  it('decodes bytes that are not UTF-8 as the whole file split at newlines decodes them', () => {
    // A lead byte cut off by a newline, a stray continuation byte, an invalid byte at the end.
    const content = Buffer.from([0x7b, 0xc3, 0x0a, 0xa9, 0x7d, 0x0a, 0xff]);
    expect([...fileLines(fileOf(content), 2)]).toEqual(content.toString('utf8').split('\n').filter((l) => l !== ''));
  });

  propTest.prop([text, fc.integer({ min: 1, max: 9 })], { numRuns: 200 })('counts the lines it gives without decoding them', (content, chunkBytes) => {
    const path = fileOf(content);
    expect(countLines(path, chunkBytes)).toBe([...fileLines(path)].length);
  });

  propTest.prop([text, fc.integer({ min: 1, max: 9 })], { numRuns: 200 })(
    "tells the SHA-256 of the file's bytes once read to the end, and nothing to a reader that stops before it",
    (content, chunkBytes) => {
      const path = fileOf(content);
      const told: string[] = [];
      const lines = [...fileLines(path, chunkBytes, (hex) => told.push(hex))];
      expect(told).toEqual([sha256(content)]);
      if (lines.length === 0) return;
      const early: string[] = [];
      for (const _line of fileLines(path, chunkBytes, (hex) => early.push(hex))) break;
      expect(early).toEqual([]);
    },
  );

  it('ends a last line without a newline, and gives nothing for an empty file', () => {
    expect([...fileLines(fileOf('{"a":1}\n\n{"b":2}'), 3)]).toEqual(['{"a":1}', '{"b":2}']);
    expect([...fileLines(fileOf(''))]).toEqual([]);
  });
});

describe('fileMatcher', () => {
  const bytes = fc.uint8Array({ maxLength: 60 });
  // The file cut into pieces at generated places; each piece expected in turn, with chunks smaller
  // and larger than a piece.
  propTest.prop([bytes, fc.array(fc.nat({ max: 60 }), { maxLength: 8 }), fc.integer({ min: 1, max: 9 })], { numRuns: 300 })(
    'takes the file as the pieces it is made of, in order, and nothing past its end',
    (content, cuts, chunkBytes) => {
      const at = [...new Set([0, ...cuts.map((c) => c % (content.length + 1)), content.length])].sort((a, b) => a - b);
      const told: string[] = [];
      const file = fileMatcher(fileOf(Buffer.from(content)), chunkBytes, (hex) => told.push(hex));
      try {
        for (let i = 1; i < at.length; i += 1) expect(file.next(Buffer.from(content.subarray(at[i - 1], at[i])))).toBe(true);
        expect(told).toEqual([]);
        expect(file.atEnd()).toBe(true);
        expect(told).toEqual([sha256(Buffer.from(content))]);
        expect(file.next(Buffer.from([0]))).toBe(false);
        expect(told).toHaveLength(1);
      } finally {
        file.close();
      }
    },
  );

  propTest.prop([bytes.filter((b) => b.length > 0), fc.nat(), fc.integer({ min: 1, max: 9 })], { numRuns: 300 })(
    'refuses a piece that differs from the file in one byte, or runs past its end, and stays where it was',
    (content, n, chunkBytes) => {
      const i = n % content.length;
      const wrong = Buffer.from(content);
      wrong[i] = (wrong[i]! + 1) % 256;
      const file = fileMatcher(fileOf(Buffer.from(content)), chunkBytes);
      try {
        expect(file.next(wrong)).toBe(false);
        expect(file.next(Buffer.concat([Buffer.from(content), Buffer.from([0x0a])]))).toBe(false);
        expect(file.next(Buffer.from(content))).toBe(true);
        expect(file.atEnd()).toBe(true);
      } finally {
        file.close();
      }
    },
  );
});

describe('jsonLines', () => {
  it('parses each line and names the first that is not JSON by its place among the lines', () => {
    const path = fileOf('{"a":1}\n\n[2]\n{"b":\n');
    const read = jsonLines(path, 'chain.jsonl');
    expect(read.next().value).toEqual({ a: 1 });
    expect(read.next().value).toEqual([2]);
    expect(() => read.next()).toThrow('chain.jsonl line 3 is not JSON');
  });
});

describe('rowsFrom', () => {
  const rows = Array.from({ length: 10 }, (_, i): StoredRow => ({ seq: i + 3, chain_id: 'c', prev_hash: '', hash: `h${i + 3}`, body: '{}' }));
  let opened = 0;
  const read = rowsFrom(() => ((opened += 1), rows[Symbol.iterator]()));

  it('pages forward without reading any row twice', () => {
    expect(read(0, 4).map((r) => r.seq)).toEqual([3, 4, 5, 6]);
    expect(read(6, 4).map((r) => r.seq)).toEqual([7, 8, 9, 10]);
    expect(read(10, 4).map((r) => r.seq)).toEqual([11, 12]);
    expect(read(12, 4)).toEqual([]);
    expect(opened).toBe(1);
  });

  it('starts over for a page behind the last one, and skips to a page further on', () => {
    expect(read(4, 2).map((r) => r.seq)).toEqual([5, 6]);
    expect(opened).toBe(2);
    expect(read(9, 2).map((r) => r.seq)).toEqual([10, 11]);
    expect(opened).toBe(2);
  });
});

describe('chainRows', () => {
  const text = fc.string({ unit: fc.constantFrom('a', '\\', '"', 'é', '😀', ',', ':', '{', '}', '\n'), maxLength: 40 });
  const row = fc.record({ seq: fc.integer({ min: 1, max: 1e9 }), chain_id: text, prev_hash: text, hash: text, body: text });
  // Rows as flaggate writes them, bodies full of quotes, backslashes and braces; then the same
  // rows with one member written a second time (the first of the two holding another value).
  propTest.prop([fc.array(row, { minLength: 1, maxLength: 5 }), fc.nat(), fc.constantFrom('body', 'chain_id', 'hash', 'prev_hash', 'seq'), text], { numRuns: 300 })(
    'takes lines as rowLine writes them, and refuses one that names a member twice',
    (rows, n, member, other) => {
      const lines = rows.map((r) => rowLine(r).slice(0, -1));
      expect([...chainRows(fileOf(lines.join('\n') + '\n'))]).toEqual(rows);
      const i = n % rows.length;
      const first = member === 'seq' ? '0' : JSON.stringify(other);
      lines[i] = `{"${member}":${first},${lines[i]!.slice(1)}`;
      expect(() => [...chainRows(fileOf(lines.join('\n') + '\n'))]).toThrow(`chain.jsonl line ${i + 1} names a key twice`);
    },
  );
});

describe('timeOfBody', () => {
  // Bodies whose other members hold the same names and text: a nested timestamp_utc, an
  // unrecorded-like tail inside a string, quotes and backslashes. The text read must be the
  // top-level member's, or nothing (then the body is parsed).
  const text = fc.string({ unit: fc.constantFrom('a', '"', '\\', ',', '}', 'timestamp_utc', '"unrecorded":null}', ':'), maxLength: 12 });
  const nested = fc.dictionary(fc.constantFrom('timestamp_utc', 'unrecorded', 'z'), fc.oneof(text, fc.constant(null)));
  propTest.prop([text, fc.oneof(fc.constant(null), nested), nested, nested], { numRuns: 500 })(
    'reads the top-level timestamp_utc of a canonical body, or nothing',
    (time, unrecorded, state, request) => {
      const body = canonicalJson({ seq: 1, request, new_state: state, timestamp_utc: time, unrecorded });
      const read = timeOfBody(body);
      if (read !== undefined) expect(read).toBe((JSON.parse(body) as { timestamp_utc: string }).timestamp_utc);
      // eslint-disable-next-line no-control-regex -- controls are escaped in canonical JSON, so not read plain
      if (unrecorded === null && !/["\\\u0000-\u001f]/.test(time)) expect(read).toBe(time);
    },
  );
});
