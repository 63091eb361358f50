import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlagChange } from '../../src/adapters/adapter.js';
import { readFlagFile, type FlagDefinition } from '../../src/adapters/flagd/index.js';
import { createFlagdFileForwarder } from '../../src/forward/index.js';
import { rawRequest } from '../support/raw-request.js';
import { makeTempDir } from '../support/temp-dir.js';

const off: FlagDefinition = { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };

function enable(previousState: unknown): FlagChange {
  return {
    platform: 'flagd',
    action: 'flag.enable',
    flagKey: 'checkout.new-flow',
    environment: 'production',
    previousState,
    newState: { state: 'ENABLED' },
    request: { method: 'POST', path: '/flags/checkout.new-flow/enable', bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  };
}
const req = rawRequest('POST', '/flags/checkout.new-flow/enable');
const fileText = (flag: FlagDefinition) => JSON.stringify({ flags: { 'checkout.new-flow': flag } });
const mode = (path: string) => statSync(path).mode & 0o777;

let tmp: ReturnType<typeof makeTempDir>;
let previousUmask: number;
beforeEach(() => {
  tmp = makeTempDir('flaggate-flagd-forward-');
  previousUmask = process.umask(0o000);
});
afterEach(() => {
  process.umask(previousUmask);
  tmp.cleanup();
});

describe('createFlagdFileForwarder', () => {
  it('writes through a symlinked flag file, so the file flagd reads changes and the link stays a link', async () => {
    const real = join(tmp.dir, 'real');
    mkdirSync(real);
    writeFileSync(join(real, 'flags.json'), fileText(off));
    const link = join(tmp.dir, 'flags.json');
    symlinkSync('real/flags.json', link);
    const res = await createFlagdFileForwarder({ path: link })(req, enable(off));
    expect(res.status).toBe(200);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFlagFile(join(real, 'flags.json')).flags['checkout.new-flow']!.state).toBe('ENABLED');
    expect(readdirSync(tmp.dir).sort()).toEqual(['flags.json', 'real']); // the temp file went beside the real file
    expect(readdirSync(real)).toEqual(['flags.json']);
  });

  it('follows a chain of links, as a Kubernetes ConfigMap mount lays them out', async () => {
    const versioned = join(tmp.dir, '..2030_01_07');
    mkdirSync(versioned);
    writeFileSync(join(versioned, 'flags.json'), fileText(off));
    symlinkSync('..2030_01_07', join(tmp.dir, '..data'));
    symlinkSync('..data/flags.json', join(tmp.dir, 'flags.json'));
    await createFlagdFileForwarder({ path: join(tmp.dir, 'flags.json') })(req, enable(off));
    expect(lstatSync(join(tmp.dir, 'flags.json')).isSymbolicLink()).toBe(true);
    expect(readFlagFile(join(versioned, 'flags.json')).flags['checkout.new-flow']!.state).toBe('ENABLED');
  });

  it.each([
    { name: '0600', fileMode: 0o600 },
    { name: '0640', fileMode: 0o640 },
    { name: '0664', fileMode: 0o664 },
  ])('keeps the flag file mode $name under a permissive umask', async ({ fileMode }) => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, fileText(off));
    chmodSync(path, fileMode);
    await createFlagdFileForwarder({ path })(req, enable(off));
    expect(readFlagFile(path).flags['checkout.new-flow']!.state).toBe('ENABLED');
    expect(mode(path)).toBe(fileMode);
  });
});
