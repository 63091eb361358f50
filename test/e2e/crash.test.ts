/**
 * flaggate in a child process in front of a real Unleash, under concurrent load, killed with SIGKILL
 * at random moments and restarted on the same data dir, again and again. After each restart the
 * chain verifies and nothing is left in doubt; at the end every change Unleash recorded has a
 * decision entry that allowed it, written before Unleash saw it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader, rowToEntry, type AuditEntry, type StoredRow } from '../../src/audit/index.js';
import { startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { startUnleash, type UnleashServer } from '../support/unleash.js';
import { makeTempDir } from '../support/temp-dir.js';

// 20 kills in the default run; `npm run test:crash` (CRASH_CYCLES=100) runs 100, about 100 changes each.
const cycles = Number(process.env.CRASH_CYCLES ?? 20);
const changesWanted = Number(process.env.CRASH_CHANGES ?? cycles * 100);
const flags = Array.from({ length: 8 }, (_, i) => `crash.f${i}`);
const FEATURES = '/api/admin/projects/default/features';

let pg: PgCluster | undefined;
let unleash: UnleashServer | undefined;
let sidecar: SidecarProcess | undefined;
const dir = makeTempDir('flaggate-crash-');

beforeAll(async () => {
  pg = await startPostgres();
  unleash = await startUnleash({ databaseUrl: pg.url() });
  for (const name of flags) {
    const res = await fetch(unleash.url + FEATURES, { method: 'POST', headers: { authorization: unleash.adminToken, 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    expect(res.status).toBeLessThan(300);
  }
}, 240_000);

afterAll(async () => {
  await sidecar?.kill('SIGKILL');
  await unleash?.stop();
  await pg?.stop();
  dir.cleanup();
}, 60_000);

const start = () =>
  startSidecarProcess({
    dataDir: dir.dir,
    chainId: 'crash',
    env: { FLAGGATE_PLATFORM: 'unleash', FLAGGATE_TARGET_URL: unleash!.url, FLAGGATE_TARGET_TOKEN: unleash!.adminToken },
  });

function ledgerEntries(): AuditEntry[] {
  const reader = openLedgerReader(`${dir.dir}/ledger.sqlite`);
  try {
    const out: AuditEntry[] = [];
    for (let after = 0; ; ) {
      const rows = reader.read(after, 5000) as StoredRow[];
      if (rows.length === 0) break;
      out.push(...rows.map(rowToEntry));
      after = rows[rows.length - 1]!.seq;
    }
    return out;
  } finally {
    reader.close();
  }
}

/** Toggles random flags in development until stopped; counts the requests sent. */
function load(proxyUrl: string, token: string, workers: number) {
  let stopped = false;
  let sent = 0;
  const worker = async () => {
    while (!stopped) {
      const flag = flags[Math.floor(Math.random() * flags.length)]!;
      const on = Math.random() < 0.5;
      sent += 1;
      try {
        const res = await fetch(`${proxyUrl}${FEATURES}/${flag}/environments/development/${on ? 'on' : 'off'}`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        await res.arrayBuffer();
      } catch {
        return; // the sidecar is gone
      }
    }
  };
  const running = Promise.all(Array.from({ length: workers }, worker));
  return { sent: () => sent, stop: async () => { stopped = true; await running; } };
}

describe('crash safety under SIGKILL', () => {
  it(`survives ${cycles} kills under load with a chain that verifies and nothing left in doubt`, async () => {
    let sent = 0;
    for (let cycle = 0; cycle < cycles; cycle += 1) {
      sidecar = await start();
      const [release, auditor] = await Promise.all([sidecar.token('riley', 'release_engineer'), sidecar.token('ada', 'auditor')]);

      // After the restart: the chain verifies, and every allowed decision has an outcome.
      const verify = await fetch(`${sidecar.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
      const report = (await verify.json()) as { ok: boolean; failure?: unknown };
      expect(report, `cycle ${cycle}`).toMatchObject({ ok: true });
      const entries = ledgerEntries();
      const outcomes = new Set(entries.filter((e) => e.entry_type === 'change.outcome').map((e) => e.decision_id));
      const inDoubt = entries.filter((e) => e.entry_type === 'change.decision' && e.decision.allow && !outcomes.has(e.decision_id));
      expect(inDoubt.map((e) => e.seq), `cycle ${cycle}: in doubt after restart`).toEqual([]);

      const traffic = load(sidecar.proxyUrl, release, 6);
      const perCycle = Math.ceil((changesWanted - sent) / (cycles - cycle));
      const deadline = Date.now() + 30_000;
      const killAt = Math.floor(perCycle * (0.5 + Math.random()));
      while (traffic.sent() < killAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2 + Math.random() * 10));
      await sidecar.kill('SIGKILL');
      await traffic.stop();
      sent += traffic.sent();
    }
    expect(sent).toBeGreaterThanOrEqual(changesWanted * 0.9);

    // Once more after the last kill, then hold every change Unleash saw against the ledger.
    sidecar = await start();
    await sidecar.kill('SIGTERM');
    sidecar = undefined;
    const entries = ledgerEntries();
    const outcomeOf = new Map(entries.filter((e) => e.entry_type === 'change.outcome').map((e) => [e.decision_id, e.outcome!.status]));
    const decisions = entries.filter((e) => e.entry_type === 'change.decision' && e.decision.allow);
    expect(decisions.every((d) => outcomeOf.has(d.decision_id))).toBe(true);

    let seen = 0;
    for (const flag of flags) {
      const res = await fetch(`${unleash!.url}/api/admin/events/${flag}`, { headers: { authorization: unleash!.adminToken } });
      const { events } = (await res.json()) as { events: Array<{ type: string; createdAt: string; environment?: string }> };
      const toggles = events.filter((e) => e.type === 'feature-environment-enabled' || e.type === 'feature-environment-disabled');
      // Each toggle Unleash recorded is matched to its own allowing decision, recorded no later.
      const candidates = decisions
        .filter((d) => d.flag_key === flag && outcomeOf.get(d.decision_id) !== 'not_applied' && outcomeOf.get(d.decision_id) !== 'not_forwarded')
        .map((d) => ({ action: d.action, at: Date.parse(d.timestamp_utc), used: false }));
      for (const t of toggles.sort((a, b) => Date.parse(a.createdAt) - Date.parse(b.createdAt))) {
        const action = t.type.endsWith('enabled') ? 'flag.enable' : 'flag.disable';
        const match = candidates.find((c) => !c.used && c.action === action && c.at <= Date.parse(t.createdAt) + 5);
        expect(match, `${flag}: ${t.type} at ${t.createdAt} has no decision entry`).toBeDefined();
        match!.used = true;
        seen += 1;
      }
    }
    expect(seen).toBeGreaterThan(50);
    const reconciled = entries.filter((e) => e.outcome?.detail?.startsWith('reconciled at start-up'));
    expect(reconciled.length, 'kills under load leave some changes in doubt, and start-up settles them').toBeGreaterThan(0);
    console.info(`crash test: ${cycles} kills, ${sent} requests, ${decisions.length} allowed decisions, ${seen} Unleash toggles matched, ${reconciled.length} in-doubt reconciled (${reconciled.map((e) => e.outcome!.status).join(', ')})`);
  }, Math.max(600_000, cycles * 45_000));
});
