import { createHash } from 'node:crypto';
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { chainHash } from '../../src/audit/hash-entry.js';

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
