/**
 * Differential test against the real Unleash: generated variants of every recognized write go
 * through flaggate on raw sockets; for each one forwarded, Unleash's own event log must show exactly
 * the action, flag, environment and new state the ledger recorded, and any other variant must have
 * been refused with a code and a decision entry, leaving Unleash untouched.
 *
 * FLAGGATE_DIFF_RUNS (default 5000) and FLAGGATE_DIFF_SEED (default: random, printed) replay a run;
 * FLAGGATE_DIFF_CONCURRENCY sets how many variants are in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { controlLedgerReader, formatReport, runDifferential } from '../support/differential/run.js';
import { createUnleashDifferential } from '../support/differential/unleash/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { startUnleash, type UnleashServer } from '../support/unleash.js';

const runs = Number(process.env.FLAGGATE_DIFF_RUNS ?? 5000);
const seed = Number(process.env.FLAGGATE_DIFF_SEED ?? Math.floor(Math.random() * 2 ** 31));
const concurrency = Number(process.env.FLAGGATE_DIFF_CONCURRENCY ?? 48);

let pg: PgCluster | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;

beforeAll(async () => {
  pg = await startPostgres();
  // Unleash allows 15 feature searches a minute; flaggate reads archived flags through that search,
  // and thousands of variants in minutes would be refused for it rather than compared.
  unleash = await startUnleash({ databaseUrl: pg.url(), env: { SEARCH_FEATURES_RATE_LIMIT_PER_MINUTE: '1000000' } });
  app = await startTestFlaggate({
    'platform.name': 'unleash',
    'platform.targetUrl': unleash.url,
    'platform.targetToken': unleash.adminToken,
    // Every refusal recorded one by one (not summarized per window), so each variant has its entry.
    'audit.refusals.perSecond': 1_000_000,
    'audit.refusals.burst': 1_000_000,
  });
}, 240_000);

afterAll(async () => {
  await app?.stop();
  await unleash?.stop();
  await pg?.stop();
}, 60_000);

describe('flaggate in front of Unleash, differential', () => {
  it(`applies exactly what it records, or refuses: ${runs} generated variants`, async () => {
    const app_ = app!;
    const [writer, auditor] = await Promise.all([app_.token('dora', 'release_engineer'), app_.token('ada', 'auditor')]);
    const report = await runDifferential({
      platform: await createUnleashDifferential(unleash!),
      proxyPort: Number(new URL(app_.proxyUrl).port),
      headers: [
        ['Authorization', `Bearer ${writer}`],
        ['X-Flaggate-Reason', 'differential test'],
        ['X-Flaggate-Ticket', 'DIFF-1'],
      ],
      readLedger: controlLedgerReader(app_.controlUrl, auditor),
      runs,
      seed,
      concurrency,
    });
    console.log(formatReport(report));
    // Unleash stores a change's event apart from the change and only warns when that fails.
    if (report.disagreements.length > 0) console.log(`Unleash's warnings:\n${unleash!.warnings().join('\n') || '(none)'}`);
    expect(report.tried).toBe(runs);
    // The kit must exercise both sides: variants that reach Unleash and variants that are refused.
    expect(report.applied).toBeGreaterThan(runs / 10);
    expect(report.refused).toBeGreaterThan(runs / 10);
    expect(report.disagreements.length, `seed ${seed}: FLAGGATE_DIFF_SEED=${seed} replays this run`).toBe(0);

    const verify = await fetch(`${app_.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  }, 900_000);
});
