import { createHash } from 'node:crypto';
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { chainHash, chainHashOfUtf8 } from '../../src/audit/hash-entry.js';

/** ARCHITECTURE.md's definition, written out: SHA-256 over prevHash's UTF-8 bytes, then the body's. */
const byDefinition = (prev: string, body: string) => createHash('sha256').update(Buffer.from(prev, 'utf8')).update(Buffer.from(body, 'utf8')).digest('hex');

describe('chainHash', () => {
  it('is SHA-256 over the previous hash and the body, as hex', () => {
    expect(chainHash('', '{}')).toBe(createHash('sha256').update('{}').digest('hex'));
    expect(chainHash('ab'.repeat(32), '{"a":"é"}')).toBe(byDefinition('ab'.repeat(32), '{"a":"é"}'));
  });

  it('hashes a high surrogate ending one part and a low one starting the next as two replaced halves, not one character', () => {
    expect(chainHash('ab\ud83d', '\ude00{}')).toBe(byDefinition('ab\ud83d', '\ude00{}'));
    expect(chainHash('ab\ud83d', '\ude00{}')).not.toBe(byDefinition('ab', '\ud83d\ude00{}'));
  });

  propTest.prop([fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' })], { numRuns: 500 })('agrees with the definition for any two strings, lone surrogates included', (prev, body) => {
    expect(chainHash(prev, body)).toBe(byDefinition(prev, body));
  });
});

describe('chainHashOfUtf8', () => {
  /** Bytes that are mostly UTF-8 of any text (lone surrogates included), sometimes with stray bytes spliced in. */
  const stored = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 200 }).map((t) => Buffer.from(t, 'utf8')),
    fc.tuple(fc.string({ unit: 'grapheme', maxLength: 100 }), fc.uint8Array({ minLength: 1, maxLength: 4 }), fc.nat()).map(([t, stray, at]) => {
      const b = Buffer.from(t, 'utf8');
      const cut = b.length === 0 ? 0 : at % b.length;
      return Buffer.concat([b.subarray(0, cut), stray, b.subarray(cut)]);
    }),
  );
  const split = (b: Buffer, cuts: number[]) => {
    const points = [...new Set(cuts.map((c) => (b.length === 0 ? 0 : c % b.length)))].sort((x, y) => x - y);
    return [0, ...points].map((p, i, all) => b.subarray(p, all[i + 1] ?? b.length));
  };

  propTest.prop([fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.string({ unit: 'binary', maxLength: 8 })), stored, fc.array(fc.nat(), { maxLength: 3 })], { numRuns: 2000 })(
    'gives the hash of the text the bytes decode to whenever it gives one, and gives one for well-formed UTF-8 after an ASCII previous hash',
    (prev, bytes, cuts) => {
      const parts = split(bytes, cuts);
      const got = chainHashOfUtf8(prev, ...parts);
      if (got !== undefined) expect(got).toBe(chainHash(prev, bytes.toString('utf8')));
      const wellFormed = parts.every((p) => Buffer.from(p.toString('utf8'), 'utf8').equals(p));
      if ([...prev].every((c) => c.charCodeAt(0) < 0x80) && wellFormed) expect(got).toBeDefined();
    },
  );

  it('gives no hash for bytes that are not UTF-8, whose decoded text hashes otherwise', () => {
    const prev = 'ab'.repeat(32);
    const stray = Buffer.from([0x7b, 0xc3, 0x7d]); // '{', a lead byte alone, '}'
    expect(chainHashOfUtf8(prev, stray)).toBeUndefined();
    expect(chainHash(prev, stray.toString('utf8'))).not.toBe(createHash('sha256').update(prev).update(stray).digest('hex'));
    expect(chainHashOfUtf8('é', Buffer.from('{}'))).toBeUndefined();
  });
});
