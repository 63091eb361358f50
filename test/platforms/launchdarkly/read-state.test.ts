/**
 * The flags a LaunchDarkly change reaches through prerequisites, read from the project's flag list
 * of the double (validated against LaunchDarkly's published description): across pages, through
 * chains, in the environment the change alters only, and not for a change to what describes the flag.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyLaunchDarkly, createLaunchDarklyAdapter, SEMANTIC_PATCH_TYPE } from '../../../src/platforms/launchdarkly/index.js';
import type { FlagChange, PlatformAdapter } from '../../../src/platforms/index.js';
import { startLaunchDarklyDouble, type LaunchDarklyDouble } from '../../support/launchdarkly/double.js';

const TOKEN = 'api-reader';
const FLAGS = '/api/v2/flags/default';
let double: LaunchDarklyDouble;
let adapter: PlatformAdapter;

function change(body: unknown, contentType = SEMANTIC_PATCH_TYPE, flag = 'base'): FlagChange {
  const bytes = Buffer.from(JSON.stringify(body));
  const req: RawRequest = { method: 'PATCH', path: `${FLAGS}/${flag}`, headers: { 'content-type': contentType }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = classifyLaunchDarkly(req);
  if (c.kind !== 'write') throw new Error('not a write');
  return c.change;
}

const send = (method: string, path: string, body: unknown) => fetch(double.url + path, { method, headers: { authorization: TOKEN, 'content-type': 'application/json' }, body: JSON.stringify(body) });
const dependOn = (flag: string, on: string, env: string) => send('PATCH', `${FLAGS}/${flag}`, { patch: [{ op: 'add', path: `/environments/${env}/prerequisites/-`, value: { key: on, variation: 0 } }] });

beforeAll(async () => {
  // Pages of at most 40 flags, whatever is asked: the reader must go on from what it was given.
  double = await startLaunchDarklyDouble({ token: TOKEN, pageCap: 40 });
  adapter = createLaunchDarklyAdapter({ baseUrl: double.url, token: TOKEN });
  for (const key of ['base', ...Array.from({ length: 118 }, (_, i) => `filler-${String(i).padStart(3, '0')}`), 'middle', 'top']) await send('POST', FLAGS, { key, name: key });
  // top depends on middle everywhere it can; middle on base in production only; a cycle back to base.
  await dependOn('middle', 'base', 'production');
  for (const env of ['production', 'test']) await dependOn('top', 'middle', env);
  await dependOn('base', 'top', 'test');
}, 60_000);
afterAll(async () => {
  await double?.stop();
});

describe('LaunchDarkly dependents', () => {
  it('finds dependents past the first pages and through a chain, where the whole chain holds', async () => {
    const state = (await adapter.readState(change({ environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }))) as { dependents?: unknown };
    expect(state.dependents).toEqual([{ key: 'middle', environments: ['production'] }, { key: 'top', environments: ['production'] }]);
    expect(adapter.reach!(change({ environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }] }), state)?.flags?.map((f) => f.flagKey)).toEqual(['base', 'middle', 'top']);
  });

  it('reads none where no chain holds, and none for a change to what describes the flag', async () => {
    expect(await adapter.readState(change({ environmentKey: 'test', instructions: [{ kind: 'turnFlagOff' }] }))).not.toHaveProperty('dependents');
    expect(await adapter.readState(change({ instructions: [{ kind: 'updateDescription', value: 'x' }] }))).not.toHaveProperty('dependents');
    expect(await adapter.readState(change([{ op: 'replace', path: '/description', value: 'x' }], 'application/json'))).not.toHaveProperty('dependents');
    // A variation changed reaches every environment the chain holds in.
    const variations = (await adapter.readState(change([{ op: 'replace', path: '/variations/0/value', value: true }], 'application/json'))) as { dependents?: unknown };
    expect(variations.dependents).toEqual([{ key: 'middle', environments: ['production'] }, { key: 'top', environments: ['production'] }]);
  });
});
