/**
 * A crash between a decision and its outcome, with several platforms behind the sidecar: at the
 * next start each change left in doubt is settled from the state of the platform it was made on.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate } from '../../src/main.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const off = { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };

describe('in-doubt reconciliation with several platforms', () => {
  it('settles each change from the platform it names: applied on one file, not applied on the other, unknown for a platform no longer here', async () => {
    const tmp = makeTempDir('flaggate-multi-doubt-');
    cleanups.push(tmp.cleanup);
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'drift.intervalSeconds': 0,
        platforms: [
          { name: 'flagd', targetUrl: 'flags.flagd.json', pathPrefix: '/flagd' },
          { id: 'payments', name: 'flagd', targetUrl: 'payments.flagd.json', pathPrefix: '/payments' },
        ],
      },
    });
    const logger = createLogger({ level: 'silent' });
    await (await startFlaggate(config, { logger })).close(); // seeds both files, starts the chain

    // The decisions a crash left without outcomes; only the payments file shows its change.
    const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock: systemClock });
    const change = (n: number, platform: string) =>
      ledger.append(sampleEntry(n, { platform, flag_key: 'checkout.new-flow', action: 'flag.enable', previous_state: off, new_state: { state: 'ENABLED' }, request: { method: 'POST', path: '/flags/checkout.new-flow/enable', body_sha256: 'cd'.repeat(32) } }));
    const onPayments = change(1, 'payments');
    const onFlagd = change(2, 'flagd');
    const onGone = change(3, 'retired');
    ledger.close();
    const payments = JSON.parse(readFileSync(`${tmp.dir}/payments.flagd.json`, 'utf8')) as { flags: Record<string, { state: string }> };
    payments.flags['checkout.new-flow']!.state = 'ENABLED';
    writeFileSync(`${tmp.dir}/payments.flagd.json`, JSON.stringify(payments));

    const app = await startFlaggate(config, { logger });
    try {
      const outcomes = app.ledger.entriesAfter(onGone.seq, 100).filter((e) => e.entry_type === 'change.outcome');
      const statusOf = (decisionId: string) => outcomes.find((e) => e.decision_id === decisionId);
      expect(statusOf(onPayments.decision_id)).toMatchObject({ platform: 'payments', outcome: { status: 'applied' } });
      expect(statusOf(onFlagd.decision_id)).toMatchObject({ platform: 'flagd', outcome: { status: 'not_applied' } });
      expect(statusOf(onGone.decision_id)).toMatchObject({ platform: 'retired', outcome: { status: 'unknown' } });
    } finally {
      await app.close();
    }
  });
});
