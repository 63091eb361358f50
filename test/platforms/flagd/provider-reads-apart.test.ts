/**
 * Files flagd-core's checker (its interpreter) loads but the real evaluator, OpenFeature's flagd
 * provider in-process on the file, reads otherwise: each is shown to the provider first, then
 * refused by flaggate's check.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FlagdProvider } from '@openfeature/flagd-provider';
import { OpenFeature } from '@openfeature/server-sdk';
import { afterAll, describe, expect, it } from 'vitest';
import { assertFlagdLoads } from '../../../src/platforms/flagd/flagd-loads.js';
import type { FlagFile } from '../../../src/platforms/flagd/index.js';
import { makeTempDir } from '../../support/temp-dir.js';

const tmp = makeTempDir('flaggate-flagd-apart-');
afterAll(async () => {
  await OpenFeature.close();
  tmp.cleanup();
});

async function provided(name: string, file: FlagFile, read: (client: ReturnType<typeof OpenFeature.getClient>) => Promise<unknown>): Promise<unknown> {
  const path = join(tmp.dir, `${name}.flagd.json`);
  writeFileSync(path, JSON.stringify(file));
  await OpenFeature.setProviderAndWait(name, new FlagdProvider({ resolverType: 'in-process', offlineFlagSourcePath: path }));
  return read(OpenFeature.getClient(name));
}

describe('what flagd-core checks and the provider reads apart', () => {
  it('a rule object with two operators: the provider serves PARSE_ERROR, the check refuses it', async () => {
    const file: FlagFile = { flags: { tk: { state: 'ENABLED', variants: { on: 'on', off: 'off' }, defaultVariant: 'off', targeting: { if: [{ '==': [1, 1] }, 'on', 'off'], '==': [1, 2] } } } };
    expect(await provided('two-operators', file, (c) => c.getStringDetails('tk', 'fallback', { targetingKey: 'u' }))).toMatchObject({ errorCode: 'PARSE_ERROR', value: 'fallback' });
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/2 operators/) }));
  });

  it.each([
    ['an error in a branch no caller reaches', { if: [{ '==': [{ var: 'tier' }, 'gold'] }, 'on', { if: [{ '==': [{ var: 'region' }, 'lab'] }, { '%': [1, 0] }, 'off'] }] }],
    ['a string in arithmetic', { if: [{ '>': [{ '-': [{ var: 'score' }, 'N/A'] }, 1] }, 'on', 'off'] }],
    ['a division by a written zero', { if: [{ '>': [{ '/': [{ var: 'spend' }, 0] }, 1] }, 'on', 'off'] }],
    ['a comparison with a list', { if: [{ '==': [{ var: 'tier' }, 'gold'] }, 'on', { if: [{ '>': [[], 1] }, 'on', 'off'] }] }],
  ])('%s: the provider builds the rule, runs its written parts and serves PARSE_ERROR to everyone; the check refuses it', async (name, targeting) => {
    const file: FlagFile = { flags: { tk: { state: 'ENABLED', variants: { on: 'on', off: 'off' }, defaultVariant: 'off', targeting } } };
    for (const tier of ['gold', 'silver']) {
      expect(await provided(`built-${name.length}`, file, (c) => c.getStringDetails('tk', 'fallback', { targetingKey: 'u', tier }))).toMatchObject({ errorCode: 'PARSE_ERROR', value: 'fallback' });
    }
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/Invalid targeting configuration for flag 'tk'/) }));
  });

  it('a split whose weights add up past 2^31-1: the provider serves everyone the default variant, the check refuses it', async () => {
    const file: FlagFile = { flags: { split: { state: 'ENABLED', variants: { control: 'v1', treatment: 'v2' }, defaultVariant: 'control', targeting: { fractional: [['treatment', 1_800_000_000], ['control', 1_200_000_000]] } } } };
    const served = await Promise.all(Array.from({ length: 40 }, async (_, i) => provided(`split-${i}`, file, (c) => c.getStringDetails('split', 'fallback', { targetingKey: `user-${i}` }))));
    expect(served.every((d) => (d as { value: string; reason: string }).value === 'v1' && (d as { reason: string }).reason === 'DEFAULT')).toBe(true);
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/weights add up to 3000000000/) }));
    const fits: FlagFile = { flags: { split: { ...file.flags.split!, targeting: { fractional: [['treatment', 60], ['control', 40]] } } } };
    expect(() => assertFlagdLoads(fits, { targeting: true })).not.toThrow();
    // Weights flagd computes (past the limit here) or that add up to nothing serve no split either.
    for (const fractional of [[['treatment', { '+': [2147483647, 1] }], ['control', 1]], [['treatment', 0], ['control', 0]]]) {
      const other: FlagFile = { flags: { split: { ...file.flags.split!, targeting: { fractional } } } };
      const served = await provided(`split-other-${JSON.stringify(fractional).length}`, other, (c) => c.getStringDetails('split', 'fallback', { targetingKey: 'user-1' }));
      expect(served).toMatchObject({ value: 'v1', reason: 'DEFAULT' });
      expect(() => assertFlagdLoads(other, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/fractional/) }));
    }
  });

  it('metadata written as {"$ref": …}: the provider serves the evaluator\'s rule as the metadata, the check refuses it', async () => {
    const file: FlagFile = { flags: { meta: { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off', metadata: { $ref: 'ownerTeam' } } }, $evaluators: { ownerTeam: { var: 'ownerTeam' } } };
    expect(await provided('ref-metadata', file, async (c) => (await c.getBooleanDetails('meta', true, { targetingKey: 'u' })).flagMetadata)).toEqual({ var: 'ownerTeam' });
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/\/flags\/meta\/metadata: holds "\$ref"/) }));
  });

  it('a variant value holding {"$ref": …}: the provider serves the evaluator\'s rule, the check refuses it', async () => {
    const evaluator = { in: ['@corp.example', { var: 'email' }] };
    const file: FlagFile = { flags: { objv: { state: 'ENABLED', variants: { cfg: { $ref: 'emp' }, plain: { limit: 1 } } as never, defaultVariant: 'cfg' } }, $evaluators: { emp: evaluator } };
    expect(await provided('ref-variant', file, (c) => c.getObjectValue('objv', { fallback: true }, { targetingKey: 'u' }))).toEqual(evaluator);
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/\$ref/) }));
  });

  it('an evaluator holding "$$": the provider matches a single "$", which the file does not say; the check refuses it', async () => {
    const file: FlagFile = { flags: { dollar: { state: 'ENABLED', variants: { on: 'on', off: 'off' }, defaultVariant: 'off', targeting: { if: [{ $ref: 'tier' }, 'on', 'off'] } } }, $evaluators: { tier: { in: [{ var: 'plan' }, ['pro$$plus']] } } };
    // flagd-core puts the evaluator's text in with String#replaceAll, which reads $-patterns in it
    // ("$&", "$`" and "$'" put quoted text inside a string, which then fails to parse).
    const read = (plan: string) => provided(`dollar-${plan.length}`, file, (c) => c.getStringValue('dollar', 'fallback', { targetingKey: 'u', plan }));
    expect(await read('pro$plus')).toBe('on');
    expect(await read('pro$$plus')).toBe('off');
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/\/\$evaluators\/tier: holds "\$\$"/) }));
  });

  it.each([
    ['an if branch', { if: [{ '==': [1, 1] }, 'enabled', 'off'] }],
    ['a fractional bucket', { fractional: [['nope', 50], ['off', 50]] }],
    ['a boolean served as "true"', { if: [{ '==': [1, 1] }, true, 'off'] }],
    ['an evaluator put in place', { $ref: 'pick' }],
  ])('a rule serving a variant the flag does not have (%s): the provider answers an error, the check refuses it', async (name, targeting) => {
    const file: FlagFile = { flags: { missing: { state: 'ENABLED', variants: { on: 'on', off: 'off' }, defaultVariant: 'off', targeting } }, $evaluators: { pick: { if: [{ '==': [1, 1] }, 'gone', 'off'] } } };
    const served = await Promise.all(['u-1', 'u-2', 'u-3'].map((u, i) => provided(`missing-${name.length}-${i}`, file, (c) => c.getStringDetails('missing', 'fallback', { targetingKey: u }))));
    expect(served.some((d) => (d as { reason: string }).reason === 'ERROR')).toBe(true);
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/names no variant/) }));
  });

  it('a rule serving the variants it names, "true" among them, is taken', () => {
    const file: FlagFile = { flags: { named: { state: 'ENABLED', variants: { true: 'yes', false: 'no', off: 'off' }, defaultVariant: 'off', targeting: { if: [{ '==': [{ var: 'plan' }, 'pro'] }, true, { fractional: [['false', 50], ['off', 50], [null, 0]] }] } } } };
    expect(() => assertFlagdLoads(file, { targeting: true })).not.toThrow();
  });

  it.each([
    ['constructor.name', { '==': [{ var: 'constructor.name' }, 'Object'] }],
    ["a string's length", { '>': [{ var: 'targetingKey.length' }, 0] }],
  ])('a rule reading %s: the provider finds it on every caller, the check refuses it', async (name, condition) => {
    const file: FlagFile = { flags: { builtin: { state: 'ENABLED', variants: { on: 'on', off: 'off' }, defaultVariant: 'off', targeting: { if: [condition, 'on', 'off'] } } } };
    expect(await provided(`builtin-${name.length}`, file, (c) => c.getStringValue('builtin', 'fallback', { targetingKey: 'u-1' }))).toBe('on');
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/JavaScript values/) }));
    // The caller's own attribute named `length` is read as sent.
    const own: FlagFile = { flags: { builtin: { ...file.flags.builtin!, targeting: { if: [{ '>': [{ var: 'length' }, 0] }, 'on', 'off'] } } } };
    expect(() => assertFlagdLoads(own, { targeting: true })).not.toThrow();
  });
});
