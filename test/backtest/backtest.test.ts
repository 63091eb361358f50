/** `flaggate policy backtest` over a ledger the sidecar wrote: exactly the past changes a candidate would decide differently. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestDecisions, readLedgerEntries } from '../../src/backtest/index.js';
import { createPolicyEngine } from '../../src/policy/index.js';
import { runCli } from '../replicate/sidecar-process.js';
import { tamper } from '../support/entries.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { makeTempDir } from '../support/temp-dir.js';
import { ensureOpa, repoRoot } from '../policy/opa-bundle.js';

let app: TestFlaggate;
const work = makeTempDir('flaggate-backtest-');
const committed = join(repoRoot, 'bundles', 'flaggate.tar.gz');
let candidate: string;
let db: string;
/** The decision id of each allowed write by qa: what a candidate barring qa from staging must report, and nothing else. */
const qaWrites: string[] = [];

async function write(token: string, flag: string, action: 'enable' | 'disable'): Promise<{ status: number; decisionId: string }> {
  const res = await fetch(`${app.proxyUrl}/flags/${flag}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'backtest', 'x-flaggate-ticket': 'CHG-9' },
  });
  await res.arrayBuffer();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id') ?? '' };
}

beforeAll(async () => {
  ensureOpa();
  // The candidate: qa may no longer write in staging.
  const policies = join(work.dir, 'policies');
  cpSync(join(repoRoot, 'policies'), policies, { recursive: true });
  const data = JSON.parse(readFileSync(join(policies, 'data.json'), 'utf8'));
  data.flaggate.config.roles.qa.write_environment_classes = [];
  writeFileSync(join(policies, 'data.json'), JSON.stringify(data, null, 2));
  candidate = join(work.dir, 'candidate.tar.gz');
  const built = spawnSync(process.execPath, [join(repoRoot, 'scripts', 'build-policies.mjs'), '--policies', policies, '--bundle', candidate, '--no-sign'], { encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);

  // The candidate also runs as the shadow policy over the same traffic.
  app = await startTestFlaggate({ 'platform.environment': 'staging', 'policy.shadow': candidate });
  db = join(app.dataDir, 'ledger.sqlite');
  const qa = await app.token('quinn', 'qa');
  const release = await app.token('riley', 'release_engineer');
  const auditor = await app.token('ada', 'auditor');
  for (const [token, flag, action] of [
    [qa, 'checkout.new-flow', 'enable'],
    [release, 'checkout.new-flow', 'disable'],
    [auditor, 'checkout.new-flow', 'enable'],
    [qa, 'search.ranking-v2', 'disable'],
    [release, 'search.ranking-v2', 'enable'],
  ] as const) {
    const r = await write(token, flag, action);
    if (token === qa) {
      expect(r.status).toBeLessThan(300);
      qaWrites.push(r.decisionId);
    }
  }
  // Then under load: concurrent writes by all three.
  const burst = await Promise.all(
    Array.from({ length: 24 }, (_, i) => {
      const token = [qa, release, auditor][i % 3]!;
      return write(token, i % 2 ? 'checkout.new-flow' : 'search.ranking-v2', i % 4 < 2 ? 'enable' : 'disable').then((r) => ({ ...r, qa: token === qa }));
    }),
  );
  for (const r of burst) if (r.qa && r.status < 300) qaWrites.push(r.decisionId);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  work.cleanup();
});

describe('shadow evaluation', () => {
  it('counts, lists and exports as metrics exactly the disagreements the backtest of the same traffic reports', async () => {
    const auditor = await app.token('ada', 'auditor');
    const res = await fetch(`${app.controlUrl}/v1/policy/shadow`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(res.status).toBe(200);
    const shadow = (await res.json()) as { decisions: number; disagreements: Record<string, number>; recent: Array<{ actor: string; kind: string }> };
    const engine = await createPolicyEngine({ bundlePath: candidate });
    const backtest = backtestDecisions(readLedgerEntries(db), { candidate: engine });
    expect(backtest.changed).toBe(qaWrites.length);
    expect(shadow.disagreements).toEqual({ newly_denied: backtest.changed, newly_allowed: 0, approvals_changed: 0, shadow_error: 0 });
    expect(shadow.recent.every((d) => d.actor === 'quinn' && d.kind === 'newly_denied')).toBe(true);
    expect(await app.metrics.registry.metrics()).toContain(`flaggate_policy_shadow_disagreements_total{kind="newly_denied"} ${backtest.changed}`);
    // Only the active bundle counted: every qa write went through.
    expect(qaWrites.length).toBeGreaterThanOrEqual(9);
  });

  it('refuses /v1/policy/shadow to a role without audit.read', async () => {
    const res = await fetch(`${app.controlUrl}/v1/policy/shadow`, { headers: { authorization: `Bearer ${await app.token('quinn', 'qa')}` } });
    expect(res.status).toBe(403);
  });
});

describe('flaggate policy backtest', () => {
  it('reports exactly the past qa writes in staging as newly denied, with counts by action, environment and role', async () => {
    const r = await runCli(['policy', 'backtest', '--db', db, '--bundle', candidate, '--baseline', committed, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.unreproduced).toEqual([]);
    expect(report.decisions).toBeGreaterThanOrEqual(4);
    expect(report.changed).toBe(qaWrites.length);
    expect(report.changes.map((c: { decision_id: string }) => c.decision_id).sort()).toEqual([...qaWrites].sort());
    for (const c of report.changes) {
      expect(c).toMatchObject({ kind: 'newly_denied', actor: 'quinn', environment: 'staging', before: { allow: true }, after: { allow: false } });
      expect(c.seq).toEqual(expect.any(Number));
    }
    expect(report.by_role).toEqual({ qa: qaWrites.length });
    expect(report.by_environment).toEqual({ staging: qaWrites.length });
  }, 60_000);

  it('finds nothing to change when the candidate is the active bundle, and prints a table without --json', async () => {
    const same = await runCli(['policy', 'backtest', '--db', db, '--bundle', committed, '--json']);
    expect(JSON.parse(same.stdout)).toMatchObject({ changed: 0, changes: [] });
    const table = await runCli(['policy', 'backtest', '--db', db, '--bundle', candidate]);
    expect(table.stdout).toMatch(/would change/);
    expect(table.stdout).toContain('newly_denied\tquinn\tqa');
  }, 60_000);

  it('honours from (inclusive) and to (exclusive) on the decision time', async () => {
    const engine = await createPolicyEngine({ bundlePath: candidate });
    const entries = [...readLedgerEntries(db)];
    const first = entries.find((e) => e.entry_type === 'change.decision' && e.actor.id === 'quinn')!;
    const only = backtestDecisions(entries, { candidate: engine, from: first.timestamp_utc, to: new Date(Date.parse(first.timestamp_utc) + 1).toISOString() });
    expect(only.changes.map((c) => c.seq)).toEqual([first.seq]);
    expect(backtestDecisions(entries, { candidate: engine, from: '2000-01-01T00:00:00Z', to: '2000-01-02T00:00:00Z' })).toMatchObject({ decisions: 0, changed: 0 });
  });
});

describe('flaggate replay', () => {
  it('agrees on every decision of the ledger with the bundle that made it (exit 0), and names the seq of a rewritten decision (exit 1)', async () => {
    const ok = await runCli(['replay', '--db', db, '--bundle', committed, candidate, '--json']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report).toMatchObject({ ok: true, disagreements: [] });
    expect(report.agreed).toBe(report.decisions);
    expect(report.decisions).toBeGreaterThanOrEqual(20);

    // A copy where one qa decision now says the actor was an auditor: the recorded allow no longer follows.
    const copy = join(work.dir, 'tampered.sqlite');
    const live = new Database(db, { readonly: true });
    await live.backup(copy);
    live.close();
    const victim = [...readLedgerEntries(copy)].find((e) => e.entry_type === 'change.decision' && e.actor.id === 'quinn')!;
    expect(tamper(copy, "UPDATE audit_entries SET body = replace(body, '\"roles\":[\"qa\"]', '\"roles\":[\"auditor\"]') WHERE seq = ?", victim.seq)).toBe(1);
    const refused = await runCli(['replay', '--db', copy, '--bundle', committed]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`seq ${victim.seq}: decided_differently (recorded allow, replayed deny)`);

    // Without the bundle that made them, decisions cannot be vouched for.
    const missing = await runCli(['replay', '--db', db, '--archive', join(work.dir, 'no-archive'), '--bundle', candidate, '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.stdout).disagreements[0]).toMatchObject({ kind: 'bundle_missing' });
  }, 60_000);

  it('uses the bundle archive of the data dir, and names each decision whose archived bundle was swapped', async () => {
    const ok = await runCli(['replay', '--db', db, '--json']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, disagreements: [] });

    // The archive copy of the active bundle replaced by the candidate, under the same name.
    const sha = createHash('sha256').update(readFileSync(committed)).digest('hex');
    const archive = join(work.dir, 'swapped-archive');
    cpSync(join(app.dataDir, 'policy-bundles'), archive, { recursive: true });
    writeFileSync(join(archive, `${sha}.tar.gz`), readFileSync(candidate));
    const swapped = await runCli(['replay', '--db', db, '--archive', archive, '--json']);
    expect(swapped.code).toBe(1);
    const report = JSON.parse(swapped.stdout) as { decisions: number; disagreements: Array<{ seq: number; kind: string }> };
    const decided = [...readLedgerEntries(db)].filter((e) => e.entry_type === 'change.decision' && e.decision.policy_sha256 === sha && e.decision.error_code === null);
    expect(report.disagreements.map((d) => d.seq)).toEqual(decided.map((e) => e.seq));
    expect(new Set(report.disagreements.map((d) => d.kind))).toEqual(new Set(['bundle_altered']));
  }, 60_000);

  it('replays an export package offline with the bundles it carries, which verify-export checks too', async () => {
    const pkg = join(work.dir, 'pkg');
    const exported = await runCli(['export', '--db', db, '--out', pkg]);
    expect(exported.code, exported.stderr).toBe(0);
    const sha = createHash('sha256').update(readFileSync(committed)).digest('hex');
    expect(JSON.parse(exported.stdout).files[`policy-bundles/${sha}.tar.gz`]).toBe(sha);
    expect((await runCli(['verify-export', pkg])).code).toBe(0);

    const ok = await runCli(['replay', '--export', pkg, '--json']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ ok: true, disagreements: [] });

    writeFileSync(join(pkg, 'policy-bundles', `${sha}.tar.gz`), readFileSync(candidate));
    const swapped = await runCli(['replay', '--export', pkg]);
    expect(swapped.code).toBe(1);
    expect(swapped.stdout).toMatch(/^seq \d+: bundle_altered/m);
    const verified = await runCli(['verify-export', pkg]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(`policy-bundles/${sha}.tar.gz does not match the manifest digest`);
  }, 120_000);
});
