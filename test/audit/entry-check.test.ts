import { readFileSync } from 'node:fs';
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ENTRY_CHECKS_FILE, entryChecksModule } from '../../src/audit/entry-check-code.js';
import { passesEntrySchema, passesMemberSchema, requiredEntryMembers } from '../../src/audit/entry-check.js';
import { newEntrySchema } from '../../src/audit/entry-schema.js';
import { findNonJson } from '../../src/audit/prepare-entry.js';
import { sampleEntry } from '../support/entries.js';

const shape = newEntrySchema.shape as Readonly<Record<string, z.ZodType>>;
const zodAccepts = (entry: unknown) => newEntrySchema.safeParse(entry).success;

/** Text around the schema's limit of 4,096 characters, astral ones (two code units, one code point) included. */
const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('', 'x', 'flag.enable', '00000000-0000-4000-8000-000000000001', 'ab'.repeat(32), 'AB'.repeat(32), '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00Z', 'header', 'token', 'applied', 'jwt'),
  fc.tuple(fc.integer({ min: 2040, max: 2056 }), fc.constantFrom('😀', 'é', 'a')).map(([n, c]) => c.repeat(n)),
  fc.tuple(fc.integer({ min: 4090, max: 4100 }), fc.constantFrom('😀', 'a')).map(([n, c]) => c.repeat(n)),
  fc.uuid({ version: [1, 4, 7] }),
);
/** Any JSON value, weighted toward what the schema's members hold. */
const value: fc.Arbitrary<unknown> = fc.oneof(
  text,
  fc.constantFrom(null, true, false, 0, -1, 1, 1.5, 2 ** 53, 2 ** 53 - 1, -(2 ** 53) + 1, [], {}),
  fc.array(text, { maxLength: 3 }),
  fc.jsonValue({ maxDepth: 2 }),
);

/** A valid entry with one of its members (or a member of one of its objects) replaced, removed or added. */
const mutated = fc
  .tuple(fc.nat(1_000), fc.constantFrom(...Object.keys(shape), 'extra'), fc.option(fc.constantFrom('id', 'roles', 'required_approvals', 'approved_at', 'experiment', 'allow', 'policy_sha256', 'body_sha256', 'status', 'platform_status', 'reason', 'extra'), { nil: undefined }), fc.oneof(value, fc.constant(undefined)))
  .map(([n, member, inner, v]) => {
    const entry = JSON.parse(JSON.stringify(sampleEntry(n, { outcome: n % 3 ? null : { status: 'applied', platform_status: 200, error_code: null, detail: null, response_sha256: null } }))) as Record<string, unknown>;
    const target = inner !== undefined && typeof entry[member] === 'object' && entry[member] !== null ? (entry[member] as Record<string, unknown>) : entry;
    const key = target === entry ? member : inner!;
    if (v === undefined) delete target[key];
    else target[key] = v;
    return entry;
  });

describe('the compiled entry check', () => {
  it('is the generated module the entry schema gives, which compiles nothing at run time', () => {
    const kept = readFileSync(new URL(`../../${ENTRY_CHECKS_FILE}`, import.meta.url), 'utf8');
    // Compared whole but reported short: the module is one long line of generated code.
    expect(kept === entryChecksModule(), 'run: npm run write:entry-checks').toBe(true);
    expect(kept).not.toMatch(/new Function|\beval\(/);
    expect([...kept.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]).filter((path) => !path!.startsWith('ajv/dist/runtime/'))).toEqual([]);
    // Every member of a valid entry passes its own check; a name that is no member has none.
    const entry = sampleEntry(4) as Record<string, unknown>;
    for (const name of Object.keys(entry)) expect(passesMemberSchema(name, entry[name]), name).toBe(true);
    expect(passesMemberSchema('wholeEntry', sampleEntry(4))).toBe(false);
    expect(passesMemberSchema('__proto__', {})).toBe(false);
  });


  it('accepts a plain entry zod accepts, and refuses one zod refuses', () => {
    expect(passesEntrySchema(sampleEntry(1))).toBe(true);
    expect(zodAccepts(sampleEntry(1))).toBe(true);
    // Both count code points: 4,098 code units are 2,049 characters.
    expect([zodAccepts({ ...sampleEntry(2), reason: '😀'.repeat(2049) }), passesEntrySchema({ ...sampleEntry(2), reason: '😀'.repeat(2049) })]).toEqual([true, true]);
    expect([zodAccepts({ ...sampleEntry(2), reason: '😀'.repeat(4097) }), passesEntrySchema({ ...sampleEntry(2), reason: '😀'.repeat(4097) })]).toEqual([false, false]);
    // zod requires a member of unknown type to be present, though it may hold anything.
    const { new_state: _state, ...without } = sampleEntry(3);
    expect([zodAccepts(without), passesEntrySchema(without)]).toEqual([false, false]);
    expect(requiredEntryMembers).toContain('new_state');
  });

  propTest.prop([mutated], { numRuns: 3000 })('gives zod\'s verdict on any entry that is plain JSON', (entry) => {
    fc.pre(findNonJson(entry, 100) === null);
    expect(passesEntrySchema(entry)).toBe(zodAccepts(entry));
  });

  propTest.prop([fc.constantFrom(...Object.keys(shape), 'extra'), value], { numRuns: 3000 })('gives each member schema\'s verdict on any JSON value', (name, v) => {
    const schema = Object.hasOwn(shape, name) ? shape[name] : undefined;
    expect(passesMemberSchema(name, v)).toBe(schema !== undefined && schema.safeParse(v).success);
  });
});
