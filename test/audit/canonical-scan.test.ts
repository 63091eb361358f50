import { fc, test as propTest } from '@fast-check/vitest';
import { isUtf8 } from 'node:buffer';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { scanCanonicalUtf8, spellsAscii } from '../../src/audit/canonical-scan.js';
import { isWellFormed } from '../../src/audit/describe-value.js';

/** What the full check says: the text parses to a value whose canonical form is the text itself. */
function fullCheck(text: string): boolean {
  try {
    return canonicalJson(JSON.parse(text)) === text;
  } catch {
    return false;
  }
}

/** The full check of stored bytes: well-formed UTF-8 whose text passes the full check (what `rowLinks` decides on). */
const fullCheckBytes = (bytes: Buffer) => isUtf8(bytes) && fullCheck(bytes.toString('utf8'));

/** A key JSON writes with an escape (the scan leaves those to the full check). */
function hasEscapedKey(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(hasEscapedKey);
  if (value === null || typeof value !== 'object') return false;
  return Object.entries(value).some(([k, v]) => JSON.stringify(k).includes('\\') || hasEscapedKey(v));
}

const scansBytes = (bytes: Buffer) => scanCanonicalUtf8(bytes) !== undefined;
/** For well-formed text only (its UTF-8 is exact); lone surrogates are written as bytes below. */
const scans = (text: string) => scansBytes(Buffer.from(text, 'utf8'));
/** `{"a":"` + bytes + `"}`. */
const withBytes = (...bytes: number[]) => Buffer.concat([Buffer.from('{"a":"'), Buffer.from(bytes), Buffer.from('"}')]);

/**
 * Objects of what entries hold, keys included (quotes, controls, non-ASCII, astral characters, and
 * the characters where UTF-8's byte order and UTF-16's order part: U+E000-U+FFFF against astral).
 */
const anyText = fc.string({ unit: fc.constantFrom('a', 'z', 'é', '"', '\\', '\n', '\u0001', '\u007f', '\u2028', '😀', '\u{10ffff}', '\ue000', '\uffff', '\ufffd', '/', '0') });
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

describe('scanCanonicalUtf8', () => {
  it('proves a real entry body and reads its seq, prev_hash and chain_id (byte offsets, after multi-byte characters)', () => {
    const body = Buffer.from(canonicalJson({ seq: 42, prev_hash: 'ab'.repeat(32), chain_id: 'c-1', a: 'é😀', new_state: { note: 'é 42' }, n: [1, -2, 0.5, 1e21, true, null] }));
    const top = scanCanonicalUtf8(body);
    expect(top).toBeDefined();
    expect(top!.seq).toBe(42);
    expect(body.toString('utf8', top!.prevStart, top!.prevEnd)).toBe('ab'.repeat(32));
    expect(body.toString('utf8', top!.chainStart, top!.chainEnd)).toBe('c-1');
    expect(spellsAscii(body, top!.prevStart, top!.prevEnd, 'ab'.repeat(32))).toBe(true);
  });

  it('orders keys as UTF-16 does where UTF-8 bytes order them otherwise (astral before U+E000-U+FFFF)', () => {
    // UTF-16: U+1F600 is D83D DE00, before E000; in UTF-8 its lead byte F0 comes after EE.
    expect(canonicalJson({ '\ue000': 1, '😀': 2 })).toBe('{"😀":2,"\ue000":1}');
    expect(scans('{"😀":2,"\ue000":1}')).toBe(true);
    expect(scans('{"\ue000":1,"😀":2}')).toBe(false);
    expect(fullCheck('{"\ue000":1,"😀":2}')).toBe(false);
    // Below U+E000 the orders agree.
    expect(scans('{"\ud7ff":1,"😀":2}')).toBe(true);
    expect(scans('{"😀":2,"\ud7ff":1}')).toBe(false);
  });

  it.each([
    ['an encoded lone high surrogate', withBytes(0xed, 0xa0, 0x80)],
    ['an encoded lone low surrogate after a pair', withBytes(0xf0, 0x9f, 0x98, 0x80, 0xed, 0xb0, 0x80)],
    ['an overlong quote', withBytes(0xc0, 0xa2)],
    ['an overlong backslash', withBytes(0xc1, 0x9c)],
    ['a stray continuation byte', withBytes(0x80)],
    ['a lead byte without its continuation', withBytes(0xc3)],
    ['a code point beyond U+10FFFF', withBytes(0xf4, 0x90, 0x80, 0x80)],
    ['a Latin-1 byte', withBytes(0xe9)],
  ])('refuses bytes that are not well-formed UTF-8: %s', (_name, bytes) => {
    expect(scansBytes(bytes)).toBe(false);
    expect(isUtf8(bytes)).toBe(false);
  });

  it('tells whether bytes spell an ASCII text, and nothing else', () => {
    const bytes = Buffer.from('xabcé');
    expect(spellsAscii(bytes, 1, 4, 'abc')).toBe(true);
    expect(spellsAscii(bytes, 1, 4, 'abd')).toBe(false);
    expect(spellsAscii(bytes, 1, 3, 'abc')).toBe(false);
    expect(spellsAscii(bytes, -1, 2, 'xa')).toBe(false);
    // The UTF-8 of "é" read as Latin-1 is "Ã©": never taken for it.
    expect(spellsAscii(bytes, 4, 6, 'Ã©')).toBe(false);
    expect(spellsAscii(bytes, 4, 6, 'é')).toBe(false);
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
    ['a raw control beside a surrogate pair, with no escape anywhere', '{"a":"😀","b":"x\u0001"}'],
    ['a raw control in a key', '{"a\u0002":1}'],
    ['a number too long to be printed by ECMAScript', `{"a":1.${'0'.repeat(40)}1}`],
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

  it('refuses an escaped lone surrogate, which the full check decides instead', () => {
    expect(scans('{"a":"\\ud800"}')).toBe(false);
    expect(fullCheck('{"a":"\\ud800"}')).toBe(true);
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
      if (isWellFormed(edited) && scans(edited)) expect(fullCheck(edited)).toBe(true);
    },
  );

  propTest.prop([anyValue, fc.nat(), fc.uint8Array({ maxLength: 4 }), fc.nat({ max: 4 })], { numRuns: 2000 })(
    'never proves bytes the full check refuses (any byte edit of a canonical text\'s UTF-8, ill-formed UTF-8 included)',
    (value, at, insert, cut) => {
      const bytes = Buffer.from(canonicalJson(value), 'utf8');
      const i = at % (bytes.length + 1);
      const edited = Buffer.concat([bytes.subarray(0, i), insert, bytes.subarray(i + cut)]);
      if (scansBytes(edited)) expect(fullCheckBytes(edited)).toBe(true);
    },
  );
});
