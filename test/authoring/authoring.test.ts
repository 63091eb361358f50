/** The policy authoring loop: `flaggate policy build` and `flaggate policy test` around the pinned opa. */
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildPolicyBundle, opaCommand } from '../../src/authoring/index.js';
import { runCli } from '../replicate/sidecar-process.js';
import { ensureOpa, repoRoot } from '../policy/opa-bundle.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-authoring-');
const policies = join(repoRoot, 'policies');
const example = (name: string) => join(repoRoot, 'examples', 'policies', name);
let key: { privateFile: string; publicFile: string };

beforeAll(() => {
  ensureOpa();
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  key = { privateFile: join(tmp.dir, 'key.pem'), publicFile: join(tmp.dir, 'key.pub.pem') };
  writeFileSync(key.privateFile, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(key.publicFile, pair.publicKey.export({ type: 'spki', format: 'pem' }));
}, 120_000);

afterAll(() => tmp.cleanup());

describe('flaggate policy build', () => {
  it('builds and signs the default policy with an example module; the bundle verifies as the sidecar verifies it, and the revision follows the sources', async () => {
    const out = join(tmp.dir, 'freeze.tar.gz');
    const built = await runCli(['policy', 'build', '--policies', policies, example('change-freeze'), '-o', out, '--signing-key', key.privateFile, '--signing-alg', 'ES256']);
    expect(built.code, built.stderr).toBe(0);
    const report = JSON.parse(built.stdout) as { revision: string; sha256: string; signer: { keyId: string; algorithm: string } };
    expect(report).toMatchObject({ revision: expect.stringMatching(/^sha256:[0-9a-f]{64}$/), signer: { keyId: 'default', algorithm: 'ES256' } });

    const verified = await runCli(['policy', 'verify', out, '--key', key.publicFile]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, revision: report.revision, sha256: report.sha256 });

    // Same sources, same revision; one byte more in a module, another.
    const again = await buildPolicyBundle({ policies: [policies, example('change-freeze')], out: join(tmp.dir, 'again.tar.gz'), opa: opaCommand() });
    expect(again.revision).toBe(report.revision);
    const edited = join(tmp.dir, 'edited');
    cpSync(example('change-freeze'), edited, { recursive: true });
    writeFileSync(join(edited, 'freeze.rego'), readFileSync(join(edited, 'freeze.rego'), 'utf8') + '\n');
    expect((await buildPolicyBundle({ policies: [policies, edited], out: join(tmp.dir, 'edited.tar.gz'), opa: opaCommand() })).revision).not.toBe(report.revision);
  }, 120_000);

  it('refuses two folders that give one data key different values, instead of letting one win', async () => {
    const other = join(tmp.dir, 'conflict');
    mkdirSync(other, { recursive: true });
    writeFileSync(join(other, 'data.json'), JSON.stringify({ flaggate: { config: { unknown_environment_class: 'development' } } }));
    await expect(buildPolicyBundle({ policies: [policies, other], out: join(tmp.dir, 'conflict.tar.gz'), opa: opaCommand() })).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
      message: expect.stringContaining('flaggate.config.unknown_environment_class is set twice'),
    });
  });
});

describe('flaggate policy test', () => {
  it.each([
    { name: 'change-freeze', ignore: [] },
    // Ownership changes who may write owned flags, which the default tests do not expect.
    { name: 'team-ownership', ignore: ['--ignore', 'authz_test.rego', '--ignore', 'platform_test.rego'] },
  ])('passes opa test and the cases of the $name example (exit 0)', async ({ name, ignore }) => {
    const r = await runCli(['policy', 'test', '--policies', policies, example(name), ...ignore, '--cases', join(example(name), 'cases')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/policy cases: 3 passed, 0 failed/);
  }, 120_000);

  it('fails (exit 1) naming a case the compiled bundle decides otherwise, and on a failing opa test', async () => {
    const cases = join(tmp.dir, 'cases');
    mkdirSync(cases, { recursive: true });
    const input = { actor: { id: 'q', displayName: 'Q', authMethod: 'jwt', roles: ['qa'] }, change: { platform: 'unleash', action: 'flag.enable', flagKey: 'x', environment: 'production', request: { method: 'POST', path: '/x', bodySha256: '00' } }, approvals: [], context: { links: {}, timeUtc: '2025-01-08T10:00:00Z' } };
    writeFileSync(join(cases, 'wrong.yaml'), JSON.stringify({ cases: [{ note: 'qa writes in production', input, want: { allow: true } }] }));
    const wrongCase = await runCli(['policy', 'test', '--policies', policies, '--cases', cases]);
    expect(wrongCase.code).toBe(1);
    expect(wrongCase.stdout).toContain('FAIL wrong.yaml: qa writes in production');

    const broken = join(tmp.dir, 'broken');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'broken_test.rego'), 'package flaggate.broken_test\n\ntest_fails if {\n\tfalse\n}\n');
    const failing = await runCli(['policy', 'test', '--policies', policies, broken, '--cases', join(example('change-freeze'), 'cases')]);
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(/test_fails: FAIL/);
  }, 120_000);
});
