import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyAttestation, type AttestationReport } from '../../src/attest/index.js';
import { readKeys } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

// The running sidecar writes the signed report of each interval just ended, off the request path.
let app: TestFlaggate | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

const reportsIn = (dataDir: string) => (existsSync(join(dataDir, 'attestations')) ? readdirSync(join(dataDir, 'attestations')).sort() : []);

async function until<T>(probe: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const found = probe();
    if (found !== undefined) return found;
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const counted = async (result: string) => (await app!.metrics.attestations.get()).values.find((v) => v.labels.result === result)?.value ?? 0;

const change = async (flag: string) => {
  const token = await app!.token('rita', 'release_engineer');
  const res = await fetch(`${app!.proxyUrl}/flags/${flag}/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'r', 'x-flaggate-ticket': 'CHG-1' } });
  return res.status;
};

describe('attest.scheduleSeconds', () => {
  it('is off by default and read from FLAGGATE_ATTEST_SCHEDULE_SECONDS', () => {
    expect(loadConfig({ env: {} }).attest.scheduleSeconds).toBe(0);
    expect(loadConfig({ env: { FLAGGATE_ATTEST_SCHEDULE_SECONDS: '3600' } }).attest.scheduleSeconds).toBe(3600);
    expect(() => loadConfig({ env: { FLAGGATE_ATTEST_SCHEDULE_SECONDS: '-1' } })).toThrow();
  });

  it('writes no report when off', async () => {
    app = await startTestFlaggate();
    expect(await change('checkout.new-flow')).toBe(200);
    await new Promise((r) => setTimeout(r, 1500));
    expect(reportsIn(app.dataDir)).toEqual([]);
  });

  it('writes a signed report of the last interval into <dataDir>/attestations/<from>_<to>/', async () => {
    app = await startTestFlaggate({ 'attest.scheduleSeconds': 1 });
    expect(await change('checkout.new-flow')).toBe(200);
    // The first report whose period holds the change.
    const dir = await until(() =>
      reportsIn(app!.dataDir)
        .map((name) => join(app!.dataDir, 'attestations', name))
        .find((d) => existsSync(join(d, 'attestation.jws')) && (JSON.parse(readFileSync(join(d, 'attestation.json'), 'utf8')) as AttestationReport).source.entries_in_period > 0),
    );
    const report = JSON.parse(readFileSync(join(dir, 'attestation.json'), 'utf8')) as AttestationReport;
    expect(dir.endsWith(`${report.period.from}_${report.period.to}`)).toBe(true);
    expect(Date.parse(report.period.to) - Date.parse(report.period.from)).toBe(1000);
    expect(report).toMatchObject({ source: { kind: 'ledger', chain_id: 'local' }, verification: { ok: true }, counts: { by_actor: { rita: 1 } } });
    expect(await verifyAttestation(dir, readKeys(join(app.dataDir, 'audit-keys', 'keyring.json')))).toMatchObject({ ok: true });
    expect(await counted('written')).toBeGreaterThan(0);
  });

  it('logs and counts a failed run and keeps serving requests', async () => {
    app = await startTestFlaggate({ 'attest.scheduleSeconds': 1 });
    // The reports' folder cannot be made: every run fails.
    rmSync(join(app.dataDir, 'attestations'), { recursive: true, force: true });
    writeFileSync(join(app.dataDir, 'attestations'), 'not a folder');
    const end = Date.now() + 20_000;
    while ((await counted('failed')) === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    expect(await counted('failed')).toBeGreaterThan(0);
    expect(await change('search.ranking-v2')).toBe(200);
  });
});
