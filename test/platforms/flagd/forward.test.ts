import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync, chownSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlagChange } from '../../../src/platforms/index.js';
import { createFlagdAdapter, createFlagdFileForwarder, readFlagFile, type FlagDefinition } from '../../../src/platforms/flagd/index.js';
import { decidedRequest } from '../../../src/platforms/request/index.js';
import { makeTempDir } from '../../support/temp-dir.js';

const off: FlagDefinition = { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
const on: FlagDefinition = { ...off, state: 'ENABLED' };

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
const req = decidedRequest('POST', '/flags/checkout.new-flow/enable', null, Buffer.alloc(0));
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

  // flagd may run as another user reading the file through its group: the new file keeps both.
  it.runIf(process.getuid?.() === 0)('keeps the flag file owner and group', async () => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, fileText(off));
    chownSync(path, 65534, 65534);
    chmodSync(path, 0o640);
    await createFlagdFileForwarder({ path })(req, enable(off));
    expect(readFlagFile(path).flags['checkout.new-flow']!.state).toBe('ENABLED');
    expect(statSync(path)).toMatchObject({ uid: 65534, gid: 65534 });
    expect(mode(path)).toBe(0o640);
  });

  it('rejects a change whose recorded previous state is no longer the flag state, as FORWARD_CONFLICT, leaving the file as it is', async () => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, fileText(on));
    const before = readFileSync(path, 'utf8');
    // Decided on "disabled → enabled", but another change already moved the flag.
    const disable: FlagChange = { ...enable(off), action: 'flag.disable', newState: { state: 'DISABLED' } };
    await expect(createFlagdFileForwarder({ path })(req, { ...disable, previousState: { ...off, defaultVariant: 'on' } })).rejects.toMatchObject({ code: 'FORWARD_CONFLICT', status: 409 });
    await expect(createFlagdFileForwarder({ path })(req, enable(off))).rejects.toMatchObject({ code: 'FORWARD_CONFLICT' });
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  it('refuses, before writing, a change whose resulting file flagd would not load (a $ref the file does not define)', async () => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, JSON.stringify({ $evaluators: { isStaff: { ends_with: [{ var: 'email' }, '@example.com'] } }, flags: { 'checkout.new-flow': off } }));
    const before = readFileSync(path, 'utf8');
    const update = (ref: string): FlagChange => ({ ...enable(off), action: 'flag.update', newState: { ...on, targeting: { if: [{ $ref: ref }, 'on', 'off'] } } });
    await expect(createFlagdFileForwarder({ path })(req, update('isVip'))).rejects.toMatchObject({ code: 'ADAPT_FLAGD_INVALID', status: 422 });
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(readdirSync(tmp.dir)).toEqual(['flags.json']); // no temp file left either
    const res = await createFlagdFileForwarder({ path })(req, update('isStaff'));
    expect(res.status).toBe(200);
    expect(readFlagFile(path).flags['checkout.new-flow']!.targeting).toEqual({ if: [{ $ref: 'isStaff' }, 'on', 'off'] });
  });

  it('refuses to write again a file holding a number JSON would write back as another (1e999 as null), leaving another flag as it was', async () => {
    const path = join(tmp.dir, 'flags.json');
    // Hand-written: amounts above Infinity are never blocked; written back as null, every amount would be.
    const limit = '{"state":"ENABLED","variants":{"block":"block","allow":"allow"},"defaultVariant":"allow","targeting":{"if":[{">":[{"var":"amount"},1e999]},"block","allow"]}}';
    writeFileSync(path, `{"flags":{"checkout.new-flow":${JSON.stringify(off)},"payments.limit-check":${limit}}}`);
    const before = readFileSync(path, 'utf8');
    const refused = await createFlagdFileForwarder({ path })(req, enable(off)).catch((err: Error) => err);
    expect(refused).toMatchObject({ code: 'FORWARD_FAILED' });
    expect(String((refused as Error).cause)).toMatch(/payments.limit-check\/targeting\/if\/0\/>\/1/);
    expect(readFileSync(path, 'utf8')).toBe(before);
    const adapter = createFlagdAdapter({ path, environment: 'production' });
    await expect(adapter.readState(enable(off))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE', message: expect.stringContaining('1e999 would be written as null') });
    // Reads write nothing: the flag is still served to them.
    expect((await createFlagdFileForwarder({ path })(decidedRequest('GET', '/flags/checkout.new-flow', null, Buffer.alloc(0)))).status).toBe(200);
    writeFileSync(path, before.replace('1e999', '-0'));
    await expect(adapter.readState(enable(off))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
    writeFileSync(path, before.replace('1e999', '1e308'));
    expect((await createFlagdFileForwarder({ path })(req, enable(off))).status).toBe(200);
  });

  it('rejects a create decided on an absent flag once the flag exists', async () => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, fileText(off));
    const create: FlagChange = { ...enable(null), action: 'flag.create', newState: on };
    await expect(createFlagdFileForwarder({ path })(req, create)).rejects.toMatchObject({ code: 'FORWARD_CONFLICT' });
  });

  it('applies each of many concurrent changes decided on one state at most once: the first wins, the rest conflict', async () => {
    const path = join(tmp.dir, 'flags.json');
    writeFileSync(path, fileText(off));
    const forward = createFlagdFileForwarder({ path });
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => forward(req, { ...enable(off), action: 'flag.update', newState: { ...on, metadata: { writer: i } } })),
    );
    const applied = results.filter((r) => r.status === 'fulfilled');
    expect(applied).toHaveLength(1);
    expect(results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason.code)).toEqual(Array(15).fill('FORWARD_CONFLICT'));
    const writer = (JSON.parse((applied[0] as PromiseFulfilledResult<{ body: Buffer }>).value.body.toString()) as { metadata: { writer: number } }).metadata.writer;
    expect(readFlagFile(path).flags['checkout.new-flow']).toEqual({ ...on, metadata: { writer } });
  });
});
