import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate } from '../../src/main.js';
import { verifyLedgerFile } from '../../src/verify-ledger-file.js';
import { makeTempDir } from '../support/temp-dir.js';

// Written by release 0.1.0 (commit f877562); test/fixtures/upgrade/0.1.0-f877562/README.md says how.
const fixture = new URL('../fixtures/upgrade/0.1.0-f877562/', import.meta.url).pathname;
const tmp = makeTempDir('flaggate-upgrade-');
const ledger = join(tmp.dir, 'ledger.sqlite');
const verify = () => verifyLedgerFile({ db: ledger, maxDelaySeconds: 10 * 365 * 86_400, skewSeconds: 5 });
afterAll(() => tmp.cleanup());

describe('a ledger written by the previous release', () => {
  it('verifies as written: every hash, token and the JSON Lines copy; only its unsealed tail is uncovered', async () => {
    cpSync(fixture, tmp.dir, { recursive: true });
    const report = await verify();
    expect(report).toMatchObject({ chainId: 'previous-release', entries: 7, head: { seq: 7 }, timestamps: { tokensChecked: 4, coveredThrough: 6 } });
    expect(report.failure).toMatchObject({ kind: 'uncovered', seq: 7 });
  });

  it('opens under this release, migrates, takes new entries on the same chain, and then verifies whole', async () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'audit.chainId': 'previous-release' } });
    const app = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });
    try {
      const token = await mintDevToken({ dataDir: tmp.dir, sub: 'riley', roles: ['release_engineer'], clock: systemClock });
      const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/disable`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'after upgrade', 'x-flaggate-ticket': 'CHG-2' },
      });
      expect(res.status, await res.text()).toBe(200);
    } finally {
      await app.close();
    }
    const reader = openLedgerReader(ledger);
    try {
      const rows = reader.rowsAfter(0, 100);
      expect(rows.length).toBeGreaterThan(7);
      expect(rows[7]!.prev_hash).toBe(rows[6]!.hash);
      expect(reader.checkpoints().length).toBeGreaterThan(0);
    } finally {
      reader.close();
    }
    expect(await verify()).toMatchObject({ ok: true, timestamps: { ok: true }, checkpoints: { checked: expect.any(Number) } });
  }, 30_000);
});
