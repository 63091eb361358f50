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

  it('a variant value holding {"$ref": …}: the provider serves the evaluator\'s rule, the check refuses it', async () => {
    const evaluator = { in: ['@corp.example', { var: 'email' }] };
    const file: FlagFile = { flags: { objv: { state: 'ENABLED', variants: { cfg: { $ref: 'emp' }, plain: { limit: 1 } } as never, defaultVariant: 'cfg' } }, $evaluators: { emp: evaluator } };
    expect(await provided('ref-variant', file, (c) => c.getObjectValue('objv', { fallback: true }, { targetingKey: 'u' }))).toEqual(evaluator);
    expect(() => assertFlagdLoads(file, { targeting: true })).toThrow(expect.objectContaining({ code: 'ADAPT_FLAGD_INVALID', message: expect.stringMatching(/\$ref/) }));
  });
});
