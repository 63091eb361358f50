import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { create } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleLimits, bundlePolicySha256, parsePolicyBundle, readPolicyBundle } from '../../src/policy/bundle.js';
import { repoRoot } from './opa-bundle.js';

const committed = join(repoRoot, 'bundles', 'flaggate.tar.gz');
const manifest = JSON.stringify({ revision: 'r1', wasm: [{ entrypoint: 'flaggate/authz/decision', module: '/policy.wasm' }] });
const wasm = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

let dir: string;
let n = 0;

/** A gzipped tar holding `files` in order (a name listed twice is stored twice). */
async function tarball(files: Array<[string, string | Buffer]>): Promise<Buffer> {
  const src = join(dir, `src-${n++}`);
  mkdirSync(src);
  const names: string[] = [];
  for (const [name, body] of files) {
    writeFileSync(join(src, name), body);
    names.push(name);
  }
  const out = join(src, 'out.tar.gz');
  await create({ gzip: true, file: out, cwd: src, portable: true }, names);
  return readFileSync(out);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'flaggate-bundle-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readPolicyBundle', () => {
  it('extracts policy.wasm, data.json and the manifest of the committed bundle', async () => {
    const b = await readPolicyBundle(committed);
    expect(b.revision).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(Buffer.from(b.wasm.subarray(0, 4))).toEqual(wasm.subarray(0, 4));
    expect(b.data).toHaveProperty('flaggate.config.roles.release_engineer');
  });

  it('rejects with POLICY_BUNDLE_INVALID when the path is a directory', async () => {
    await expect(readPolicyBundle(dir)).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
  });
});

describe('parsePolicyBundle', () => {
  it('refuses bytes after the end of the gzip stream, which gunzip passes over', async () => {
    const bytes = readFileSync(committed);
    for (const tail of [Buffer.alloc(4), Buffer.from('unsigned bytes')]) {
      await expect(parsePolicyBundle(Buffer.concat([bytes, tail]))).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
    }
  });

  it('accepts a minimal bundle with the three files', async () => {
    const b = await parsePolicyBundle(await tarball([['.manifest', manifest], ['policy.wasm', wasm], ['data.json', '{}']]));
    expect(b.revision).toBe('r1');
  });

  it.each<{ name: string; files: Array<[string, string | Buffer]>; why: RegExp }>([
    { name: 'rejects the bundle when policy.wasm is missing', files: [['.manifest', manifest], ['data.json', '{}']], why: /no \/policy\.wasm/ },
    { name: 'rejects the bundle when data.json is missing', files: [['.manifest', manifest], ['policy.wasm', wasm]], why: /no \/data\.json/ },
    { name: 'rejects the bundle when .manifest is missing', files: [['policy.wasm', wasm], ['data.json', '{}']], why: /no \/\.manifest/ },
    { name: 'rejects the bundle when the manifest is not JSON', files: [['.manifest', '{'], ['policy.wasm', wasm], ['data.json', '{}']], why: /\.manifest is not valid/ },
    {
      name: 'rejects the bundle when the manifest has no revision',
      files: [['.manifest', JSON.stringify({ wasm: [{ entrypoint: 'flaggate/authz/decision', module: '/policy.wasm' }] })], ['policy.wasm', wasm], ['data.json', '{}']],
      why: /\.manifest:/,
    },
    {
      name: 'rejects the bundle when the manifest names another entrypoint',
      files: [['.manifest', JSON.stringify({ revision: 'r', wasm: [{ entrypoint: 'x/y', module: '/policy.wasm' }] })], ['policy.wasm', wasm], ['data.json', '{}']],
      why: /names no \/policy\.wasm/,
    },
    { name: 'rejects the bundle when policy.wasm is not WebAssembly', files: [['.manifest', manifest], ['policy.wasm', 'MZ not wasm'], ['data.json', '{}']], why: /not a WebAssembly/ },
    { name: 'rejects the bundle when data.json is an array', files: [['.manifest', manifest], ['policy.wasm', wasm], ['data.json', '[]']], why: /not a JSON object/ },
    { name: 'rejects the bundle when data.json is not UTF-8', files: [['.manifest', manifest], ['policy.wasm', wasm], ['data.json', Buffer.from([0x22, 0xff, 0x22])]], why: /not valid UTF-8/ },
    { name: 'rejects the bundle when a file appears twice', files: [['.manifest', manifest], ['policy.wasm', wasm], ['data.json', '{}'], ['data.json', '{}']], why: /appears twice/ },
    { name: 'rejects the bundle when the manifest is over its size cap', files: [['.manifest', ' '.repeat(bundleLimits.manifest + 1)], ['policy.wasm', wasm], ['data.json', '{}']], why: /larger than/ },
  ])('$name', async ({ files, why }) => {
    await expect(parsePolicyBundle(await tarball(files))).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID', message: expect.stringMatching(why) });
  });

  it.each([
    { name: 'rejects the bundle when the bytes are not gzip', bytes: () => Buffer.from('plain text') },
    { name: 'rejects the bundle when the gzip stream is cut short', bytes: () => readFileSync(committed).subarray(0, 500) },
    { name: 'rejects the bundle when the tar inside is cut short', bytes: () => gzipSync(gunzipSync(readFileSync(committed)).subarray(0, 1500)) },
    { name: 'rejects the bundle when the gzip holds no tar', bytes: () => gzipSync(Buffer.from('not a tar archive')) },
    { name: 'rejects the bundle when the file is empty', bytes: () => Buffer.alloc(0) },
    { name: 'rejects the bundle when the unpacked size is over the cap', bytes: () => gzipSync(Buffer.alloc(bundleLimits.unpacked + 1)) },
  ])('$name', async ({ bytes }) => {
    await expect(parsePolicyBundle(bytes())).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
  });
});

describe('bundlePolicySha256', () => {
  const files = (data: string, manifestText = manifest, extra: Array<[string, string]> = []) =>
    tarball([['.manifest', manifestText], ['policy.wasm', wasm], ['data.json', data], ...extra]);

  it('names the policy the engine loads: not the spacing of its JSON, nor files beside the three', async () => {
    const digest = await bundlePolicySha256(await files('{"a":1,"b":[true,null]}'));
    expect(await bundlePolicySha256(await files(' { "b" : [ true , null ] , "a" : 1.0 }\n'))).toBe(digest);
    expect(await bundlePolicySha256(await files('{"a":1,"b":[true,null]}', JSON.stringify(JSON.parse(manifest), null, 2), [['notes.txt', 'x']]))).toBe(digest);
    expect(await bundlePolicySha256(await files('{"a":2,"b":[true,null]}'))).not.toBe(digest);
    expect(await bundlePolicySha256(await files('{"a":1,"b":[true,null]}', manifest.replace('"r1"', '"r2"')))).not.toBe(digest);
  });

  // The engine takes data as JSON.stringify writes it: a number beyond a double is null there.
  it('takes a number beyond a double as the engine does, and does not refuse the bundle', async () => {
    expect(await bundlePolicySha256(await files('{"max":1e400}'))).toBe(await bundlePolicySha256(await files('{"max":null}')));
  });
});
