import { createHash } from 'node:crypto';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ATTESTATION_TYP, verifyAttestation, type AttestationReport } from '../../src/attest/index.js';
import { attestPeriod } from '../../src/attest-ledger.js';
import { openKeyring, readKeys, signJson } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { exportLedgerFile } from '../../src/export-ledger.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { ensureOpa, repoRoot } from '../policy/opa-bundle.js';
import { runCli } from '../replicate/sidecar-process.js';
import { makeTempDir } from '../support/temp-dir.js';

// A ledger written by real changes through a real sidecar (flagd, embedded TSA, JSON Lines copy),
// then attested from the closed ledger file and from an export package, and verified offline.
const temps: Array<{ dir: string; cleanup(): void }> = [];
const temp = (name: string) => {
  const t = makeTempDir(`flaggate-attest-${name}-`);
  temps.push(t);
  return t.dir;
};
const SHIPPED_BUNDLE = join(repoRoot, 'bundles', 'flaggate.tar.gz');
const CRITICAL = '/flags/payments.instant-payouts/enable';
const context = { 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9' };
const MAX_DELAY = 3600;

interface Run {
  dataDir: string;
  from: string;
  to: string;
}

async function start(dataDir: string, overrides: Record<string, unknown> = {}): Promise<{ app: Flaggate; token(sub: string, role: string): Promise<string> }> {
  const config = loadConfig({ env: {}, overrides: { dataDir, proxyPort: 0, controlPort: 0, 'drift.intervalSeconds': 0, ...overrides } });
  const app = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });
  return { app, token: (sub, role) => mintDevToken({ dataDir, sub, roles: [role], clock: systemClock }) };
}

async function post(url: string, token: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (await res.json()) as Record<string, unknown> };
}

/** Every kind of change the report covers, through the proxy and control ports. */
async function runChanges(): Promise<Run> {
  const dataDir = temp('ledger');
  const from = new Date(Date.now() - 60_000).toISOString();
  const { app, token } = await start(dataDir);
  try {
    const [rita, sam, ivy, quinn] = await Promise.all([token('rita', 'release_engineer'), token('sam', 'release_engineer'), token('ivy', 'incident_commander'), token('quinn', 'qa')]);
    const linked = await post(`${app.proxyUrl}/flags/checkout.new-flow/enable`, rita, { ...context, 'x-flaggate-link-experiment': 'EXP-checkout-7' });
    expect(linked.status).toBe(200);
    // Refused (qa may not write in production): a change, counted, but no finding.
    expect((await post(`${app.proxyUrl}/flags/checkout.new-flow/disable`, quinn, context)).status).toBe(403);
    // Held with an experiment link: the approved decision carries it (kept with the held request).
    const held = await post(app.proxyUrl + CRITICAL, rita, { ...context, 'x-flaggate-link-experiment': 'EXP-payouts-2' });
    expect(held.status).toBe(202);
    expect((await post(`${app.controlUrl}/v1/changes/${held.json.changeRequestId as string}/approve`, sam, {}, { reason: 'checked' })).status).toBe(200);
    const glass = await post(`${app.proxyUrl}/flags/payments.instant-payouts/disable`, ivy, { ...context, 'x-flaggate-break-glass': 'payouts double-paying' });
    expect(glass.status).toBe(200);
    expect((await post(`${app.controlUrl}/v1/break-glass/${glass.decisionId!}/review`, sam, {}, { reason: 'warranted' })).status).toBe(201);
    expect((await post(`${app.proxyUrl}/flags/checkout.new-flow/disable`, sam, context)).status).toBe(200);
  } finally {
    await app.close();
  }
  return { dataDir, from, to: new Date(Date.now() + 60_000).toISOString() };
}

let run: Run;
let keys: string;

beforeAll(async () => {
  run = await runChanges();
  keys = join(run.dataDir, 'audit-keys', 'keyring.json');
}, 60_000);

afterAll(() => {
  for (const t of temps) t.cleanup();
});

describe('flaggate attest over a ledger written end to end', () => {
  let out: string;
  let report: AttestationReport;

  beforeAll(async () => {
    out = temp('report');
    report = await attestPeriod({ db: join(run.dataDir, 'ledger.sqlite'), from: run.from, to: run.to, out, bundle: SHIPPED_BUNDLE, maxDelaySeconds: MAX_DELAY, skewSeconds: 1, clock: systemClock });
  });

  it('verifies the evidence and finds no exception', () => {
    expect(report.verification).toMatchObject({ ok: true, failure: null });
    expect(report.findings).toEqual([]);
    expect(report.summary.result).toBe('no exceptions');
    expect(report.controls.map((c) => `${c.framework} ${c.id}`)).toEqual([
      'SOC 2 CC6.1', 'SOC 2 CC6.2', 'SOC 2 CC6.3', 'SOC 2 CC7.2', 'SOC 2 CC8.1',
      'ISO/IEC 27001:2022 A.5.15', 'ISO/IEC 27001:2022 A.5.18', 'ISO/IEC 27001:2022 A.8.15', 'ISO/IEC 27001:2022 A.8.32',
    ]);
  });

  it('lists the critical changes with their approvers, the break-glass with its review, and the experiment flag', () => {
    expect(report.critical_changes).toMatchObject([
      { flag_key: 'payments.instant-payouts', requester: 'rita', approved_by: ['sam'], distinct_approvers: 1, break_glass: false, outcome: 'applied', ok: true },
      { flag_key: 'payments.instant-payouts', requester: 'ivy', approved_by: [], break_glass: true, outcome: 'applied', ok: true },
    ]);
    expect(report.break_glass).toMatchObject([{ requester: 'ivy', emergency: 'payouts double-paying', ticket: 'CHG-9', review: { by: 'sam', late: false } }]);
    expect(report.experiments).toMatchObject([
      { flag_key: 'checkout.new-flow', experiments: ['EXP-checkout-7'], changes: [{ action: 'flag.enable', experiment: 'EXP-checkout-7' }, { action: 'flag.disable', actor: 'quinn', outcome: 'denied' }, { action: 'flag.disable', actor: 'sam', experiment: null }] },
      { flag_key: 'payments.instant-payouts', experiments: ['EXP-payouts-2'], changes: [{ actor: 'rita', experiment: 'EXP-payouts-2', outcome: 'applied' }, { actor: 'ivy', experiment: null }] },
    ]);
    // One count per request: the held change and its approved decision are one change.
    expect(report.counts.by_actor).toEqual({ rita: 2, quinn: 1, ivy: 1, sam: 1 });
    expect(report.counts.by_outcome).toEqual({ applied: 4, denied: 1 });
    expect(report.counts.by_flag).toEqual({ 'checkout.new-flow': 3, 'payments.instant-payouts': 2 });
    expect(report.policy_revisions).toHaveLength(1);
  });

  it('verifies offline against the pinned checkpoint keys', async () => {
    expect(await verifyAttestation(out, readKeys(keys))).toMatchObject({ ok: true, result: 'no exceptions', findings: 0 });
    expect(readFileSync(join(out, 'attestation.html'), 'utf8')).toContain('no exceptions');
  });

  it.each([
    { file: 'attestation.json', edit: (t: string) => t.replace('"no exceptions"', '"exceptions"') },
    { file: 'attestation.json', edit: (t: string) => t.replace('"requester": "rita"', '"requester": "sam"') },
    { file: 'attestation.html', edit: (t: string) => t.replace('payouts double-paying', 'routine change') },
  ])('detects an edit of $file', async ({ file, edit }) => {
    const copy = temp('tampered');
    cpSync(out, copy, { recursive: true });
    const text = readFileSync(join(copy, file), 'utf8');
    expect(edit(text)).not.toBe(text);
    writeFileSync(join(copy, file), edit(text));
    expect(await verifyAttestation(copy, readKeys(keys))).toMatchObject({ ok: false, failure: { file } });
  });

  it('refuses a report, even one signed again, that names a key twice: a finding to a reader keeping the first value, none to JSON.parse', async () => {
    const copy = temp('twice');
    cpSync(out, copy, { recursive: true });
    const text = readFileSync(join(copy, 'attestation.json'), 'utf8');
    const twice = `{\n  "findings": [{ "check": "forged" }],${text.slice(1)}`;
    writeFileSync(join(copy, 'attestation.json'), twice);
    const seal = JSON.parse(Buffer.from(readFileSync(join(copy, 'attestation.jws'), 'utf8').split('.')[1]!, 'base64url').toString('utf8')) as { files: Record<string, string> };
    seal.files['attestation.json'] = createHash('sha256').update(twice).digest('hex');
    const keyring = await openKeyring(join(run.dataDir, 'audit-keys'), systemClock);
    writeFileSync(join(copy, 'attestation.jws'), (await signJson(seal, ATTESTATION_TYP, keyring)).jws + '\n');
    expect(await verifyAttestation(copy, readKeys(keys))).toMatchObject({ ok: false, failure: { file: 'attestation.json', message: 'attestation.json names a key twice' } });
  });

  it('refuses a report signed by a key other than the pinned one, even with its own keys beside it', async () => {
    const other = temp('other-ledger');
    const { app } = await start(other);
    await app.close();
    const forged = temp('forged');
    await attestPeriod({ db: join(run.dataDir, 'ledger.sqlite'), from: run.from, to: run.to, out: forged, keyringDir: join(other, 'audit-keys'), bundle: SHIPPED_BUNDLE, maxDelaySeconds: MAX_DELAY, skewSeconds: 1, clock: systemClock });
    expect(await verifyAttestation(forged)).toMatchObject({ ok: true });
    expect(await verifyAttestation(forged, readKeys(keys))).toMatchObject({ ok: false, failure: { file: 'attestation.jws', message: expect.stringContaining('unknown_key') } });
  });

  it('runs as flaggate attest and attest verify: exit 0, and exit 1 once the report is edited', async () => {
    const dir = temp('cli');
    const made = await runCli(['attest', '--db', join(run.dataDir, 'ledger.sqlite'), '--from', run.from, '--to', run.to, '--out', dir, '--bundle', SHIPPED_BUNDLE, '--max-timestamp-delay', String(MAX_DELAY)]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ verification: true, summary: { result: 'no exceptions' } });
    const verified = await runCli(['attest', 'verify', dir, '--keys', keys]);
    expect(verified.code, verified.stderr).toBe(0);
    writeFileSync(join(dir, 'attestation.json'), readFileSync(join(dir, 'attestation.json'), 'utf8').replace('"findings": []', '"findings": [ ]'));
    const edited = await runCli(['attest', 'verify', dir, '--keys', keys]);
    expect(edited.code).toBe(1);
    expect(JSON.parse(edited.stdout)).toMatchObject({ ok: false, failure: { file: 'attestation.json' } });
  }, 120_000);

  it('gives the same findings from an export package of the period', async () => {
    const pkg = temp('export');
    await exportLedgerFile({ db: join(run.dataDir, 'ledger.sqlite'), out: pkg, from: run.from, to: run.to, maxBytes: 64 * 1024 * 1024 });
    const fromExport = temp('report-export');
    const viaExport = await attestPeriod({ exportDir: pkg, from: run.from, to: run.to, out: fromExport, keys, keyringDir: join(run.dataDir, 'audit-keys'), bundle: SHIPPED_BUNDLE, maxDelaySeconds: MAX_DELAY, skewSeconds: 1, clock: systemClock });
    expect(viaExport.verification.ok).toBe(true);
    expect(viaExport.source.kind).toBe('export');
    expect({ ...viaExport.counts, findings: viaExport.findings }).toEqual({ ...report.counts, findings: [] });
    expect(await verifyAttestation(fromExport, readKeys(keys))).toMatchObject({ ok: true });
  });
});

describe('flaggate attest over a sidecar whose policy skipped the approval check', () => {
  it('reports the critical change made without an approval as a finding under SOC 2 CC8.1', async () => {
    ensureOpa();
    // The shipped policies with the approval rule switched off: critical flags need no approval anywhere.
    const src = temp('policies');
    cpSync(join(repoRoot, 'policies'), join(src, 'policies'), { recursive: true });
    const dataPath = join(src, 'policies', 'data.json');
    const data = JSON.parse(readFileSync(dataPath, 'utf8')) as { flaggate: { config: { critical_approval: { environment_classes: string[] } } } };
    data.flaggate.config.critical_approval.environment_classes = [];
    writeFileSync(dataPath, JSON.stringify(data));
    const bundle = join(src, 'no-approvals.tar.gz');
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-policies.mjs'), '--policies', join(src, 'policies'), '--bundle', bundle, '--no-sign'], { stdio: 'ignore' });

    const dataDir = temp('unchecked');
    const from = new Date(Date.now() - 60_000).toISOString();
    const { app, token } = await start(dataDir, { 'policy.bundle': bundle });
    let decisionId: string | null;
    try {
      const res = await post(app.proxyUrl + CRITICAL, await token('rita', 'release_engineer'), context);
      expect(res.status).toBe(200); // applied at once: nobody approved it
      decisionId = res.decisionId;
    } finally {
      await app.close();
    }
    const out = temp('unchecked-report');
    const report = await attestPeriod({ db: join(dataDir, 'ledger.sqlite'), from, to: new Date(Date.now() + 60_000).toISOString(), out, bundle: SHIPPED_BUNDLE, maxDelaySeconds: MAX_DELAY, skewSeconds: 1, clock: systemClock });
    expect(report.verification.ok).toBe(true);
    expect(report.findings).toMatchObject([
      { check: 'approvals_distinct', severity: 'high', title: 'critical change without the required approvals', evidence: { decision_id: decisionId!, flag_key: 'payments.instant-payouts', actor: 'rita' } },
    ]);
    expect(report.findings[0]!.controls).toEqual(expect.arrayContaining(['SOC 2 CC8.1', 'SOC 2 CC6.3', 'ISO/IEC 27001:2022 A.8.32']));
    expect(report.controls.find((c) => c.id === 'CC8.1')).toMatchObject({ result: 'exceptions', findings: [report.findings[0]!.id] });
    expect(report.controls.find((c) => c.id === 'CC7.2')).toMatchObject({ result: 'no exceptions' });
    expect(await verifyAttestation(out, readKeys(join(dataDir, 'audit-keys', 'keyring.json')))).toMatchObject({ ok: true, result: 'exceptions', findings: 1 });
  }, 60_000);
});
