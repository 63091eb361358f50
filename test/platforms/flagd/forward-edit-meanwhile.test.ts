import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { FlagChange } from '../../../src/platforms/index.js';
import { createFlagdFileForwarder, readFlagFile, type FlagDefinition } from '../../../src/platforms/flagd/index.js';
import { decidedRequest } from '../../../src/platforms/request/index.js';
import type * as FlagdLoads from '../../../src/platforms/flagd/flagd-loads.js';
import { makeTempDir } from '../../support/temp-dir.js';

// The edit behind flaggate lands while the forwarder builds and checks the new file (flagd-core
// building every rule: about a second for a file of 3,000 flags), the window between its read and
// its rename. The check itself runs for real; the hook only times the edit inside it.
const meanwhile = vi.hoisted(() => ({ edit: undefined as (() => void) | undefined }));
vi.mock('../../../src/platforms/flagd/flagd-loads.js', async (importOriginal) => {
  const real = await importOriginal<typeof FlagdLoads>();
  return {
    ...real,
    assertFlagdLoads: (...args: Parameters<typeof real.assertFlagdLoads>) => {
      const edit = meanwhile.edit;
      meanwhile.edit = undefined;
      edit?.();
      return real.assertFlagdLoads(...args);
    },
  };
});

const off: FlagDefinition = { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
const enable: FlagChange = {
  platform: 'flagd',
  action: 'flag.enable',
  flagKey: 'checkout.new-flow',
  environment: 'production',
  previousState: off,
  newState: { state: 'ENABLED' },
  request: { method: 'POST', path: '/flags/checkout.new-flow/enable', bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
};
const req = decidedRequest('POST', '/flags/checkout.new-flow/enable', null, Buffer.alloc(0));

let tmp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  tmp = makeTempDir('flaggate-flagd-meanwhile-');
});
afterEach(() => {
  meanwhile.edit = undefined;
  tmp.cleanup();
});

describe('createFlagdFileForwarder, with the flag file edited while a change is applied', () => {
  it.each([
    { name: 'another flag', edit: (flags: Record<string, FlagDefinition>) => void (flags['search.beta'] = { ...off, state: 'ENABLED' }) },
    { name: 'the flag being changed', edit: (flags: Record<string, FlagDefinition>) => void (flags['checkout.new-flow'] = { ...off, defaultVariant: 'on' }) },
  ])('keeps an edit of $name made meanwhile and refuses the change as FORWARD_CONFLICT', async ({ edit }) => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, JSON.stringify({ flags: { 'checkout.new-flow': off, 'search.beta': off } }));
    let edited = '';
    meanwhile.edit = () => {
      const file = JSON.parse(readFileSync(path, 'utf8')) as { flags: Record<string, FlagDefinition> };
      edit(file.flags);
      writeFileSync(path, (edited = JSON.stringify(file)));
    };
    await expect(createFlagdFileForwarder({ path })(req, enable)).rejects.toMatchObject({ code: 'FORWARD_CONFLICT', status: 409 });
    expect(edited).not.toBe('');
    expect(readFileSync(path, 'utf8')).toBe(edited);
    expect(readdirSync(tmp.dir)).toEqual(['flags.json']); // no temp file left behind
  });

  it('applies the change once the file is left alone, and a flag file created meanwhile counts as an edit', async () => {
    const path = join(tmp.dir, 'flags.json');
    const create: FlagChange = { ...enable, action: 'flag.create', previousState: null, newState: off };
    meanwhile.edit = () => writeFileSync(path, JSON.stringify({ flags: {} }));
    await expect(createFlagdFileForwarder({ path })(req, create)).rejects.toMatchObject({ code: 'FORWARD_CONFLICT' });
    expect((await createFlagdFileForwarder({ path })(req, create)).status).toBe(201);
    expect((await createFlagdFileForwarder({ path })(req, enable)).status).toBe(200);
    expect(readFlagFile(path).flags['checkout.new-flow']!.state).toBe('ENABLED');
  });
});
