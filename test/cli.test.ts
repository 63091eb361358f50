/** The command line as an operator or auditor runs it: exit codes and what it prints. */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './replicate/sidecar-process.js';
import { tamper } from './support/entries.js';
import { startTestFlaggate, type TestFlaggate } from './support/flaggate.js';
import { makeTempDir } from './support/temp-dir.js';

let app: TestFlaggate;
const work = makeTempDir('flaggate-cli-');

beforeAll(async () => {
  app = await startTestFlaggate();
  const release = await app.token('riley', 'release_engineer');
  for (const action of ['enable', 'disable', 'enable']) {
    await fetch(`${app.proxyUrl}/flags/checkout.new-flow/${action}`, { method: 'POST', headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'cli test', 'x-flaggate-ticket': 'CHG-2' } });
  }
  await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${await app.token('ada', 'auditor')}` } }); // covers the head
}, 60_000);

afterAll(async () => {
  await app?.stop();
  work.cleanup();
});

describe('flaggate tsa', () => {
  it('requests a token from the embedded TSA and verifies it: exit 0, then exit 1 with the reason for other data', async () => {
    writeFileSync(`${work.dir}/data.txt`, 'release notes');
    writeFileSync(`${work.dir}/other.txt`, 'something else');
    const requested = await runCli(['tsa', 'request', '--url', `${app.controlUrl}/v1/tsa`, '--data', `${work.dir}/data.txt`, '--out', `${work.dir}/data.tsr`]);
    expect(requested.code, requested.stderr).toBe(0);
    const trust = ['--trust', `${app.dataDir}/tsa/ca.crt`, '--untrusted', `${app.dataDir}/tsa/tsa.crt`];
    const ok = await runCli(['tsa', 'verify', '--token', `${work.dir}/data.tsr`, '--data', `${work.dir}/data.txt`, ...trust]);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^OK /);
    const wrong = await runCli(['tsa', 'verify', '--token', `${work.dir}/data.tsr`, '--data', `${work.dir}/other.txt`, ...trust]);
    expect(wrong.code).toBe(1);
    expect(wrong.stdout).toMatch(/^TSA_IMPRINT_MISMATCH/);
  });
});

describe('flaggate verify, export and verify-export', () => {
  it('exports the ledger file and verifies the package offline (exit 0), pinned to the published keys', async () => {
    const exported = await runCli(['export', '--db', `${app.dataDir}/ledger.sqlite`, '--out', `${work.dir}/pkg`, '--flag', 'checkout.new-flow']);
    expect(exported.code, exported.stderr).toBe(0);
    writeFileSync(`${work.dir}/keys.json`, JSON.stringify(await (await fetch(`${app.controlUrl}/v1/audit/keys`)).json()));
    const verified = await runCli(['verify-export', `${work.dir}/pkg`, '--keys', `${work.dir}/keys.json`]);
    expect(verified.code, verified.stdout).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, filters: { flag: 'checkout.new-flow' } });
  });

  it('verifies the ledger file (exit 0), then reports a tampered row with its seq and kind (exit 1)', async () => {
    const ok = await runCli(['verify', '--db', `${app.dataDir}/ledger.sqlite`]);
    expect(ok.code, ok.stdout).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, timestamps: { ok: true } });
    tamper(`${app.dataDir}/ledger.sqlite`, "UPDATE audit_entries SET body = replace(body, 'cli test', 'cli best') WHERE seq = 2");
    const broken = await runCli(['verify', '--db', `${app.dataDir}/ledger.sqlite`]);
    expect(broken.code).toBe(1);
    expect(JSON.parse(broken.stdout)).toMatchObject({ ok: false, failure: { seq: 2, kind: 'modified' } });
  });

  it('refuses contradictory options with a message and exit 2', async () => {
    const res = await runCli(['verify', '--db', 'a', '--postgres', 'postgres://127.0.0.1/x']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('CONFIG_INVALID');
  });
});
