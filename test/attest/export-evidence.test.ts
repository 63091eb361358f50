import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyAttestation, type AttestationReport } from '../../src/attest/index.js';
import { readKeys, verifyExport, type ExportManifest } from '../../src/audit/index.js';
import { exportLedgerFile } from '../../src/export-ledger.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { makeTempDir } from '../support/temp-dir.js';

// The export package carries the period's attestation, the role assignments of the bundle in force
// and the retention policy, each signed through the manifest.
let app: TestFlaggate;
let auditor: string;
let pkg: string;
const work = makeTempDir('flaggate-export-evidence-');
const verify = (dir: string) => verifyExport(dir, { verifyTokens: verifyCoverage, keys: readKeys(join(app.dataDir, 'audit-keys', 'keyring.json')) });
const json = <T>(dir: string, file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as T;
const context = { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-4' };

async function post(url: string, token: string, body?: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  app = await startTestFlaggate({ 'archive.bucket': 'evidence-bucket', 'archive.retentionDays': 2555, 'archive.endpoint': 'http://127.0.0.1:9' });
  const [rita, sam] = await Promise.all([app.token('rita', 'release_engineer'), app.token('sam', 'release_engineer')]);
  auditor = await app.token('ada', 'auditor');
  expect((await post(`${app.proxyUrl}/flags/checkout.new-flow/enable`, rita)).status).toBe(200);
  const held = await post(`${app.proxyUrl}/flags/payments.instant-payouts/enable`, rita);
  expect(held.status).toBe(202);
  expect((await post(`${app.controlUrl}/v1/changes/${held.json.changeRequestId as string}/approve`, sam, { reason: 'checked' })).status).toBe(200);

  const res = await fetch(`${app.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${auditor}` } });
  expect(res.status).toBe(200);
  writeFileSync(join(work.dir, 'export.tar.gz'), Buffer.from(await res.arrayBuffer()));
  pkg = join(work.dir, 'package');
  mkdirSync(pkg);
  await extract({ file: join(work.dir, 'export.tar.gz'), cwd: pkg });
}, 60_000);

afterAll(async () => {
  await app?.stop();
  work.cleanup();
});

describe('the evidence in an export package', () => {
  it('verifies, with every evidence file listed in the signed manifest', async () => {
    expect(await verify(pkg)).toMatchObject({ ok: true });
    const manifest = json<ExportManifest>(pkg, 'manifest.json');
    expect(Object.keys(manifest.files)).toEqual(expect.arrayContaining([
      'role-assignments.json', 'retention-policy.json',
      'attestation/attestation.json', 'attestation/attestation.html', 'attestation/attestation.jws', 'attestation/keys.jwks.json',
    ]));
  });

  it('carries the attestation of the period, verifying offline against the pinned keys', async () => {
    const report = json<AttestationReport>(pkg, 'attestation/attestation.json');
    expect(report).toMatchObject({ source: { kind: 'export', chain_id: 'local' }, verification: { ok: true }, summary: { result: 'no exceptions' } });
    expect(report.critical_changes).toMatchObject([{ flag_key: 'payments.instant-payouts', requester: 'rita', approved_by: ['sam'], ok: true }]);
    expect(report.counts.by_actor).toEqual({ rita: 2 });
    expect(readFileSync(join(pkg, 'attestation', 'attestation.html'), 'utf8')).toContain('payments.instant-payouts');
    expect(await verifyAttestation(join(pkg, 'attestation'), readKeys(join(app.dataDir, 'audit-keys', 'keyring.json')))).toMatchObject({ ok: true, result: 'no exceptions' });
  });

  it('names the roles and approvers of the bundle the sidecar runs', () => {
    const roles = json<Record<string, unknown>>(pkg, 'role-assignments.json');
    const running = json<Array<{ sha256: string }>>(pkg, 'policy-revisions.json').at(-1)!.sha256;
    expect(roles).toMatchObject({ bundle: { sha256: running }, critical_approval: { approver_roles: ['release_engineer'] }, role_mapping: { 'flaggate-release': 'release_engineer' } });
    expect(Object.keys(roles.roles as object)).toEqual(expect.arrayContaining(['release_engineer', 'auditor', 'qa']));
  });

  it('states the configured retention', () => {
    expect(json(pkg, 'retention-policy.json')).toEqual({
      archive: { bucket: 'evidence-bucket', prefix: 'flaggate/', mode: 'COMPLIANCE', retentionDays: 2555 },
      ledger: { appendOnly: true, expires: false },
    });
  });

  it.each([
    { file: 'attestation/attestation.json', edit: (t: string) => t.replace('"requester": "rita"', '"requester": "sam"') },
    { file: 'attestation/attestation.html', edit: (t: string) => t.replace('no exceptions', 'exceptions') },
    { file: 'role-assignments.json', edit: (t: string) => t.replace('"release_engineer"', '"qa"') },
    { file: 'retention-policy.json', edit: (t: string) => t.replace('2555', '1') },
  ])('fails verify-export once $file is edited', async ({ file, edit }) => {
    const copy = join(work.dir, `edited-${file.replace(/\W/g, '-')}`);
    cpSync(pkg, copy, { recursive: true });
    const text = readFileSync(join(copy, file), 'utf8');
    expect(edit(text)).not.toBe(text);
    writeFileSync(join(copy, file), edit(text));
    expect(await verify(copy)).toMatchObject({ ok: false, failure: { kind: 'modified', file } });
  });

  it('fails verify-export when the manifest lists a file that is not a package file', async () => {
    const copy = join(work.dir, 'smuggled');
    cpSync(pkg, copy, { recursive: true });
    const manifest = json<ExportManifest>(copy, 'manifest.json');
    manifest.files['attestation/extra.json'] = 'x';
    writeFileSync(join(copy, 'manifest.json'), JSON.stringify(manifest));
    expect(await verify(copy)).toMatchObject({ ok: false });
  });

  it('is in a package exported from the ledger file too', async () => {
    const out = join(work.dir, 'from-file');
    await exportLedgerFile({ db: join(app.dataDir, 'ledger.sqlite'), out, maxBytes: 64 * 1024 * 1024 });
    expect(await verify(out)).toMatchObject({ ok: true });
    expect(json(out, 'attestation/attestation.json')).toMatchObject({ verification: { ok: true }, critical_changes: [{ approved_by: ['sam'] }] });
    expect(json(out, 'role-assignments.json')).toMatchObject({ bundle: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } });
  });

  it('leaves the attestation out of a package past attest.exportMaxEntries, saying why; the rest still verifies', async () => {
    const out = join(work.dir, 'too-many');
    const skipped: string[] = [];
    await exportLedgerFile({ db: join(app.dataDir, 'ledger.sqlite'), out, maxBytes: 64 * 1024 * 1024, attestMaxEntries: 1, onAttestSkipped: (why) => skipped.push(why) });
    expect(skipped).toEqual([expect.stringContaining('more than attest.exportMaxEntries (1)')]);
    expect(existsSync(join(out, 'attestation'))).toBe(false);
    expect(Object.keys(json<ExportManifest>(out, 'manifest.json').files)).toEqual(expect.arrayContaining(['role-assignments.json', 'retention-policy.json']));
    expect(await verify(out)).toMatchObject({ ok: true });
  });
});
