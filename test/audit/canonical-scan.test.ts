import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { scanCanonicalObject } from '../../src/audit/canonical-scan.js';

/** What the full check says: the text parses to a value whose canonical form is the text itself. */
function fullCheck(text: string): boolean {
  try {
    return canonicalJson(JSON.parse(text)) === text;
  } catch {
    return false;
  }
}

/** A key JSON writes with an escape (the scan leaves those to the full check). */
function hasEscapedKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasEscapedKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => JSON.stringify(k).includes('\\') || hasEscapedKey(v));
}

const scans = (text: string) => scanCanonicalObject(text) !== undefined;

/** Objects of what entries hold, keys included (quotes, controls, non-ASCII, astral characters). */
const anyText = fc.string({ unit: fc.constantFrom('a', 'z', 'é', '"', '\\', '\n', '\u0001', '\u007f', '\u2028', '😀', '/', '0') });
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    anyText,
    fc.array(tie('value'), { maxLength: 4 }),
    tie('object'),
  ),
  object: fc.dictionary(anyText, tie('value'), { maxKeys: 5 }),
})).object;

describe('scanCanonicalObject', () => {
  it('proves a real entry body and reads its seq, prev_hash and chain_id', () => {
    const body = canonicalJson({ seq: 42, prev_hash: 'ab'.repeat(32), chain_id: 'c-1', new_state: { note: 'é 42' }, n: [1, -2, 0.5, 1e21, true, null] });
    const top = scanCanonicalObject(body);
    expect(top).toBeDefined();
    expect(top!.seq).toBe(42);
    expect(body.slice(top!.prevStart, top!.prevEnd)).toBe('ab'.repeat(32));
    expect(body.slice(top!.chainStart, top!.chainEnd)).toBe('c-1');
  });

  it.each([
    ['whitespace', '{"a": 1}'],
    ['unsorted keys', '{"b":1,"a":2}'],
    ['a duplicate key', '{"a":1,"a":1}'],
    ['negative zero', '{"a":-0}'],
    ['a trailing zero', '{"a":1.0}'],
    ['an exponent ES prints in full', '{"a":1e2}'],
    ['a leading zero', '{"a":01}'],
    ['an escaped slash', '{"a":"\\/"}'],
    ['an escaped printable character', '{"a":"\\u0041"}'],
    ['an upper-case hex escape', '{"a":"\\u001F"}'],
    ['\\u escape where a short one exists', '{"a":"\\u000a"}'],
    ['a raw control character', '{"a":"\u0001"}'],
    ['a lone surrogate', '{"a":"\ud800"}'],
    ['a raw control beside a surrogate pair, with no escape anywhere', '{"a":"😀","b":"x\u0001"}'],
    ['a lone surrogate after a pair', '{"a":"😀\ud800"}'],
    ['an unterminated string', '{"a":"abc'],
    ['trailing text', '{"a":1}x'],
    ['a trailing comma', '{"a":1,}'],
    ['a literal with a typo', '{"a":nul}'],
    ['a non-finite number', '{"a":1e400}'],
  ])('refuses %s (the full check refuses it too)', (_name, text) => {
    expect(scans(text)).toBe(false);
    expect(fullCheck(text)).toBe(false);
  });

  it('refuses a canonical text that is not an object (the verifier wants an entry object)', () => {
    expect(scans('[1]')).toBe(false);
    expect(scans('"a"')).toBe(false);
  });

  it('refuses nesting deeper than it follows, which the full check decides instead', () => {
    const deep = `{"a":${'['.repeat(100)}${']'.repeat(100)}}`;
    expect(scans(deep)).toBe(false);
    expect(fullCheck(deep)).toBe(true);
  });

  propTest.prop([anyValue], { numRuns: 300 })('proves the canonical form of any object without lone surrogates or escaped keys', (value) => {
    const text = canonicalJson(value);
    if (!hasEscapedKey(value)) expect(scans(text)).toBe(true);
    expect(fullCheck(text)).toBe(true);
  });

  propTest.prop([anyValue, fc.nat(), fc.string({ maxLength: 3 }), fc.nat({ max: 3 })], { numRuns: 2000 })(
    'never proves a text the full check refuses (any edit of a canonical text)',
    (value, at, insert, cut) => {
      const text = canonicalJson(value);
      const i = at % (text.length + 1);
      const edited = text.slice(0, i) + insert + text.slice(i + cut);
      if (scans(edited)) expect(fullCheck(edited)).toBe(true);
    },
  );
});
