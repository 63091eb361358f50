import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/index.js';
import { entryLine, rowLine } from '../../src/audit/export-lines.js';
import { sampleEntry } from '../support/entries.js';

const hash = 'ab'.repeat(32);
const row = (body: string, seq = 7) => ({ seq, chain_id: 'local', prev_hash: 'cd'.repeat(32), hash, body });

describe('rowLine and entryLine', () => {
  it.each([
    { name: 'a real entry', body: { ...sampleEntry(3), seq: 3, chain_id: 'local', prev_hash: '0'.repeat(64), event_id: 'e', timestamp_utc: '2030-01-07T10:00:00.000Z' } },
    { name: 'keys that sort around "hash"', body: { h: 1, ha: [1, { hash: 2 }], hasi: '}', 'hash\u0000': 3, i: { '"': '{"hash":' } } },
    { name: 'a key that needs escaping at the top', body: { 'a"b': 1, '\\': { z: '\\"' }, zz: null } },
    { name: 'only keys before "hash"', body: { a: 1, b: { c: [] } } },
    { name: 'no keys', body: {} },
    { name: 'a body with a hash of its own', body: { hash: 'other', a: 1 } },
  ])('write exactly canonicalJson of the row and of the entry with its hash: $name', ({ body }) => {
    const text = canonicalJson(body);
    expect(rowLine(row(text))).toBe(canonicalJson(row(text)) + '\n');
    expect(entryLine(row(text))).toBe(canonicalJson({ ...(JSON.parse(text) as object), hash }) + '\n');
  });

  propTest.prop([fc.dictionary(fc.string(), fc.jsonValue())], { numRuns: 300 })('entryLine equals canonicalJson for any object body', (body) => {
    const text = canonicalJson(body);
    expect(entryLine(row(text))).toBe(canonicalJson({ ...(JSON.parse(text) as object), hash }) + '\n');
  });
});
