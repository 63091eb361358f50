import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/index.js';
import { joinCanonical } from '../../src/audit/canonical.js';
import { describeValue, looseCanonicalText, safeText } from '../../src/audit/describe-value.js';
import { newEntrySchema } from '../../src/audit/entry-schema.js';
import type { NewEntry } from '../../src/audit/entry.js';
import { prepareEntry } from '../../src/audit/prepare-entry.js';
import { standInEntry } from '../../src/audit/stand-in.js';
import { sampleEntry } from '../support/entries.js';

describe('looseCanonicalText', () => {
  propTest.prop([fc.jsonValue()])('is the RFC 8785 canonical JSON of any JSON value', (value) => {
    expect(looseCanonicalText(value)).toBe(canonicalJson(value));
  });

  it('writes what JSON cannot carry instead of throwing, at any depth', () => {
    expect(looseCanonicalText({ b: [Number.POSITIVE_INFINITY, -0, Number.NaN], a: '\ud800' })).toBe('{"a":"\\ud800","b":[Infinity,0,NaN]}');
    const deep = JSON.parse('['.repeat(200_000) + ']'.repeat(200_000)) as unknown;
    expect(describeValue(deep).bytes).toBe(400_000);
  });
});

describe('safeText', () => {
  it('cuts without splitting a surrogate pair and replaces lone surrogates', () => {
    expect(safeText('ab😀cd', 3)).toBe('ab…');
    expect(safeText('a\udc00b', 10)).toBe('a\ufffdb');
  });
});

describe('prepareEntry', () => {
  it.each([
    { name: 'Infinity', entry: sampleEntry(1, { new_state: JSON.parse('{"a":1e999}') as unknown }), message: /non-finite number \(Infinity\) at \$\.new_state\.a/ },
    { name: 'depth 101', entry: sampleEntry(1, { new_state: JSON.parse('['.repeat(100) + ']'.repeat(100)) as unknown }), message: /nesting deeper than 100/ },
    { name: 'a lone surrogate', entry: sampleEntry(1, { reason: 'x\ud800' }), message: /lone surrogate in the string at \$\.reason/ },
    { name: 'a flag key over 4096 characters', entry: sampleEntry(1, { flag_key: 'k'.repeat(4097) }), message: /flag_key/ },
  ])('refuses $name with a typed failure, never a throw', ({ entry, message }) => {
    const prepared = prepareEntry(entry);
    expect(prepared).toMatchObject({ ok: false, unrecorded: { error_code: 'AUDIT_ENTRY_UNRECORDABLE', message: expect.stringMatching(message) } });
  });

  it('accepts depth 100 and returns its canonical JSON and that of each member', () => {
    const entry = sampleEntry(1, { new_state: JSON.parse('['.repeat(99) + ']'.repeat(99)) as unknown });
    const prepared = prepareEntry(entry);
    expect(prepared.ok).toBe(true);
    if (prepared.ok) {
      expect(joinCanonical(prepared.members)).toBe(canonicalJson(entry));
      expect(Object.keys(prepared.members).sort()).toEqual(Object.keys(entry).sort());
    }
  });

  // The limit is held without joining the text when the members' lengths bound it: at, just under
  // and just over an entry's exact size, with names and values of one, two, three and four bytes a
  // character (and names JSON escapes), the refusal agrees with the joined text's byte length.
  const text = fc.string({ unit: fc.constantFrom('a', '"', '\u0001', 'é', '€', '😀'), maxLength: 40 });
  // Long values of three- and four-byte characters leave the bound no slack from the rest of the entry.
  const value = fc.oneof(text, fc.constantFrom('€'.repeat(3000), '😀'.repeat(1500), '\u0001'.repeat(1000)));
  propTest.prop([fc.dictionary(text, value, { maxKeys: 6 }), fc.integer({ min: -3, max: 3 })], { numRuns: 300 })('refuses exactly the entries whose text is over the limit', (extra, delta) => {
    const entry = { ...sampleEntry(1), new_state: extra } as NewEntry;
    const exact = Buffer.byteLength(canonicalJson(entry), 'utf8');
    const limit = exact + delta;
    const prepared = prepareEntry(entry, { maxDepth: 100, maxBytes: limit });
    expect(prepared.ok).toBe(exact <= limit);
    if (!prepared.ok) expect(prepared.unrecorded.message).toContain(`the entry is ${exact} bytes, over the limit of ${limit}`);
  });

  it('refuses an entry over the size limit', () => {
    expect(prepareEntry(sampleEntry(1, { new_state: 'x'.repeat(2000) }), { maxDepth: 100, maxBytes: 1000 })).toMatchObject({ ok: false, unrecorded: { message: expect.stringMatching(/over the limit of 1000/) } });
  });
});

describe('standInEntry', () => {
  // Whatever an entry holds, hostile or broken, its stand-in is recordable and small.
  propTest.prop([fc.dictionary(fc.constantFrom(...Object.keys(sampleEntry(1))), fc.anything({ withNullPrototype: true, withBigInt: true, withMap: true, withDate: true, maxDepth: 4 }))], { numRuns: 300 })(
    'is schema-valid, canonicalizable and capped for any garbage',
    (overrides) => {
      const standIn = standInEntry({ ...sampleEntry(1), ...overrides } as NewEntry, 'some reason');
      expect(newEntrySchema.safeParse(standIn).success).toBe(true);
      const prepared = prepareEntry(standIn);
      expect(prepared.ok).toBe(true);
      if (prepared.ok) expect(Buffer.byteLength(joinCanonical(prepared.members))).toBeLessThan(32 * 1024);
    },
  );
});
