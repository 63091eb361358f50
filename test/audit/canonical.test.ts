import { readFileSync } from 'node:fs';
import { fc, test as propTest } from '@fast-check/vitest';
import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/index.js';
import { canonicalMembers, joinCanonical, memberOffset } from '../../src/audit/canonical.js';

// The package canonicalJson used to call for every value, and still calls for what is not plain data.
const reference = canonicalizeModule as unknown as (value: unknown) => string | undefined;

const vectors = JSON.parse(readFileSync(new URL('../fixtures/rfc8785/vectors.json', import.meta.url), 'utf8')) as Array<{ note: string; input: string; canonical: string }>;

describe('canonicalJson', () => {
  it.each(vectors)('$note', ({ input, canonical }) => {
    expect(canonicalJson(JSON.parse(input))).toBe(canonical);
  });

  it.each([
    { name: 'NaN', value: { a: Number.NaN } },
    { name: 'Infinity', value: [Number.POSITIVE_INFINITY] },
    { name: 'an undefined property', value: { a: undefined } },
    { name: 'a function', value: { f: () => 1 } },
    { name: 'a bigint', value: { n: 1n } },
  ])('rejects $name as a programming error', ({ value }) => {
    expect(() => canonicalJson(value)).toThrow(TypeError);
  });

  propTest.prop([fc.jsonValue()], { numRuns: 200 })('is idempotent and independent of key order', (value) => {
    const once = canonicalJson(value);
    expect(canonicalJson(JSON.parse(once))).toBe(once);
    const shuffled = JSON.parse(JSON.stringify(value, (_k, v: unknown) =>
      v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as object).reverse()) : v));
    expect(canonicalJson(shuffled)).toBe(once);
  });

  // Members serialized once and joined later (with chain fields, with the hash) must be the text a
  // whole serialization gives: keys that sort unlike their insertion order, integer-like keys
  // (which objects enumerate first), non-ASCII and escaped names, and `__proto__`, included.
  const memberName = fc.oneof(fc.string(), fc.constantFrom('10', '9', '0', '01', 'a', 'A', 'é', '\u0000', 'hash', '__proto__', '__proto__x'), fc.nat().map(String));
  propTest.prop([fc.dictionary(memberName, fc.jsonValue(), { maxKeys: 12 }), fc.dictionary(memberName, fc.jsonValue(), { maxKeys: 4 })], { numRuns: 300 })(
    'joins members serialized apart into the whole object\'s canonical JSON',
    (entry, added) => {
      const whole = { ...entry, ...added };
      const members = { ...canonicalMembers(entry), ...canonicalMembers(added) };
      expect(joinCanonical(members)).toBe(canonicalJson(whole));
      // The same from the two sets of members as they are, the later one's names winning.
      expect(joinCanonical(canonicalMembers(entry), canonicalMembers(added))).toBe(canonicalJson(whole));
      expect(joinCanonical(canonicalMembers(entry), canonicalMembers(added), canonicalMembers({}))).toBe(canonicalJson(whole));
    },
  );

  // A member put into the joined text at memberOffset is where a whole serialization puts it.
  propTest.prop([fc.dictionary(memberName, fc.jsonValue(), { maxKeys: 12 }), fc.dictionary(memberName, fc.jsonValue(), { maxKeys: 4 }), memberName, fc.jsonValue()], { numRuns: 500 })(
    'finds where a member sorts among members serialized apart',
    (entry, added, name, value) => {
      fc.pre(!Object.hasOwn(entry, name) && !Object.hasOwn(added, name));
      const sources = [canonicalMembers(entry), canonicalMembers(added)];
      const text = joinCanonical(...sources);
      const member = `${JSON.stringify(name)}:${canonicalJson(value)}`;
      const at = memberOffset(name, ...sources);
      const spliced = at < text.length - 1 ? `${text.slice(0, at)}${member},${text.slice(at)}` : text.length > 2 ? `${text.slice(0, -1)},${member}}` : `{${member}}`;
      expect(spliced).toBe(canonicalJson({ ...entry, ...added, [name]: value }));
    },
  );

  // Plain data is written without the package; it must write what the package writes, and leave
  // to it (or refuse, as before) everything else: Dates and other toJSON, class instances, Maps,
  // boxed values, null prototypes, sparse arrays, -0, the extremes of doubles, keys in UTF-16
  // order that code points order otherwise, objects with many keys.
  const anything = fc.anything({
    maxDepth: 4,
    withBoxedValues: true,
    withDate: true,
    withMap: true,
    withSet: true,
    withNullPrototype: true,
    withObjectString: true,
    withSparseArray: true,
    withTypedArray: true,
    withUnicodeString: true,
    key: fc.oneof(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constantFrom('__proto__', 'toJSON', '\uffff', '\u{10000}', '10', '9')),
  });
  const manyKeys = fc.dictionary(fc.string({ unit: 'binary', maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { minKeys: 30, maxKeys: 80 });
  const numbers = fc.oneof(fc.double(), fc.constantFrom(-0, 5e-324, 1e21, 1e-7, Number.MAX_VALUE, 2 ** 53 + 2));
  propTest.prop([fc.oneof(anything, manyKeys, fc.array(numbers), fc.jsonValue())], { numRuns: 500 })('writes what the canonicalize package writes', (value) => {
    let text: string;
    try {
      text = canonicalJson(value);
    } catch (err) {
      // Refused, as it always was, only what JSON cannot carry.
      expect(err).toBeInstanceOf(TypeError);
      return;
    }
    expect(text).toBe(reference(value));
  });

  it('leaves a toJSON, a Date and a class instance to the package', () => {
    class Point {
      x = 1;
      toJSON() {
        return { y: 2 };
      }
    }
    const values = [new Date(0), new Point(), { at: new Date(0), p: [new Point()] }, Object.assign(Object.create(null) as object, { b: 1, a: [true, null] })];
    for (const value of values) expect(canonicalJson(value)).toBe(reference(value));
  });
});
