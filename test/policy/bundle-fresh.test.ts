import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureOpa, repoRoot } from './opa-bundle.js';

const script = join(repoRoot, 'scripts', 'build-policies.mjs');
const policies = join(repoRoot, 'policies');
const bundle = join(repoRoot, 'bundles', 'flaggate.tar.gz');

function check(...args: string[]) {
  const r = spawnSync(process.execPath, [script, '--check', ...args], { cwd: repoRoot, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

let dir: string;
beforeAll(() => {
  ensureOpa();
  dir = mkdtempSync(join(tmpdir(), 'flaggate-fresh-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('build-policies --check', () => {
  it('passes on the committed bundle against policies/', () => {
    const r = check();
    expect(r.output).toContain('is fresh');
    expect(r.status).toBe(0);
  });

  it('rejects the bundle when a policy file changed since the build', () => {
    const edited = join(dir, 'edited');
    cpSync(policies, edited, { recursive: true });
    appendFileSync(join(edited, 'authz.rego'), '\n# edited\n');
    const r = check('--policies', edited, '--bundle', bundle);
    expect(r.status).toBe(1);
    expect(r.output).toContain('bundles/ is stale against policies/: run npm run build:policies');
  });

  it('rejects the bundle when data.json changed since the build', () => {
    const edited = join(dir, 'data-edited');
    cpSync(policies, edited, { recursive: true });
    appendFileSync(join(edited, 'data.json'), '\n');
    expect(check('--policies', edited, '--bundle', bundle).status).toBe(1);
  });

  it('ignores edits to *_test.rego', () => {
    const edited = join(dir, 'test-edited');
    cpSync(policies, edited, { recursive: true });
    appendFileSync(join(edited, 'authz_test.rego'), '\n# edited\n');
    expect(check('--policies', edited, '--bundle', bundle).status).toBe(0);
  });

  it('rejects the bundle when it is missing', () => {
    const r = check('--bundle', join(dir, 'absent.tar.gz'));
    expect(r.status).toBe(1);
    expect(r.output).toContain('is stale against policies/');
  });

  it('rejects the bundle when it is unreadable', () => {
    const junk = join(dir, 'junk.tar.gz');
    writeFileSync(junk, 'not a tarball');
    const r = check('--bundle', junk);
    expect(r.status).toBe(1);
    expect(r.output).toContain('missing or unreadable');
  });
});

describe('build-policies signing', () => {
  it('signs with opa build: the real opa verifies it with the public key, flaggate too, and --check stays fresh', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { readPolicyBundle } = await import('../../src/policy/bundle.js');
    const { loadBundleTrust } = await import('../../src/policy/index.js');
    const { loadConfig } = await import('../../src/config/index.js');
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = join(dir, 'ci-key.pem');
    const pub = join(dir, 'ci-key.pub.pem');
    writeFileSync(key, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    writeFileSync(pub, pair.publicKey.export({ type: 'spki', format: 'pem' }));
    const out = join(dir, 'signed.tar.gz');
    const built = spawnSync(process.execPath, [script, '--bundle', out, '--signing-key', key], { cwd: repoRoot, encoding: 'utf8' });
    expect(built.stdout).toContain('signed RS256');

    const opa = (verificationKey: string) =>
      spawnSync('bash', [join(repoRoot, 'scripts', 'opa.sh'), 'build', '-b', out, '--verification-key', verificationKey, '-o', join(dir, 'reverified.tar.gz')], { encoding: 'utf8' });
    expect(opa(pub).status).toBe(0);
    // The real opa refuses it under another key: the check above is not vacuous.
    const other = join(dir, 'other.pub.pem');
    writeFileSync(other, generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }));
    const refused = opa(other);
    expect(refused.status).toBe(1);
    expect(`${refused.stdout}${refused.stderr}`).toContain('failed to verify JWT signature');

    const config = loadConfig({ env: {}, overrides: { 'policy.verificationKey': pub } });
    await expect(readPolicyBundle(out, { trust: await loadBundleTrust(config.policy, 'production') })).resolves.toMatchObject({ signer: { keyId: 'default', algorithm: 'RS256' } });
    expect(check('--bundle', out).status).toBe(0);
  }, 60_000);
});
