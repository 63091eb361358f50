/**
 * An outcome entry whose reply went out waits for the next group commit. Whatever reads or writes
 * the ledger through the sidecar's evidence meanwhile must behave as if it were committed: a read
 * sees it, a write lands after it, an export covers and seals it, a stop commits it.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerReader, outcomeEntry, verifyExport, type AuditEntry } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { openEvidence, type Evidence } from '../../src/compose/evidence.js';
import { loadConfig } from '../../src/config/index.js';
import { exportLedger } from '../../src/export-ledger.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function evidenceWithWaitingOutcome(): Promise<{ evidence: Evidence; dir: string; decision: AuditEntry; outcome: Promise<AuditEntry> }> {
  const tmp = makeTempDir('flaggate-waiting-');
  cleanups.push(() => tmp.cleanup());
  const config = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0 } });
  const evidence = await openEvidence(config, { clock: systemClock, logger: createLogger({ level: 'silent' }), metrics: createMetrics() });
  let closed = false;
  cleanups.push(async () => void (closed || (await evidence.close())));
  // The token over a settled entry comes a while later; here never, so only what the export does covers it.
  (evidence.timestamper as { coverSoon: unknown }).coverSoon = () => undefined;
  const decision = await evidence.record.append(sampleEntry(1));
  const outcome = evidence.record.settled(outcomeEntry(decision, { status: 'applied', platformStatus: 200 }), { upstream: 'soon', commit: 'soon' });
  const close = evidence.close.bind(evidence);
  evidence.close = async () => ((closed = true), close());
  return { evidence, dir: tmp.dir, decision, outcome };
}

const storedSeqs = (dir: string): number[] => {
  const reader = openLedgerReader(join(dir, 'ledger.sqlite'));
  try {
    return (reader.read(0, 100) as Array<{ seq: number }>).map((r) => r.seq);
  } finally {
    reader.close();
  }
};

describe('an outcome waiting for the next group commit', () => {
  it('is not on disk yet, and a read through the evidence commits it first', async () => {
    const { evidence, dir, decision } = await evidenceWithWaitingOutcome();
    expect(storedSeqs(dir)).toEqual([decision.seq]);
    expect(evidence.ledger.entriesAfter(0, 10).map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(storedSeqs(dir)).toEqual([1, 2]);
  });

  it('goes ahead of an entry written through the evidence', async () => {
    const { evidence, outcome } = await evidenceWithWaitingOutcome();
    const written = evidence.ledger.append(sampleEntry(2));
    expect(written.seq).toBe(3);
    expect((await outcome).seq).toBe(2);
  });

  it('is in an export made at once, covered by a token and sealed, and the package verifies', async () => {
    const { evidence, dir, outcome } = await evidenceWithWaitingOutcome();
    const out = join(dir, 'package');
    const manifest = await exportLedger({ ledger: evidence.ledger, keyring: evidence.keyring, timestamper: evidence.timestamper, clock: systemClock, out, maxBytes: 1 << 30 });
    expect((await outcome).seq).toBe(2);
    expect(manifest.sealSeq).toBe(2);
    const report = await verifyExport(out, { verifyTokens: verifyCoverage });
    expect(report.failure).toBeUndefined();
    expect(report).toMatchObject({ ok: true, entries: 2 });
  });

  it('is committed by a stop before the ledger closes', async () => {
    const { evidence, dir, outcome } = await evidenceWithWaitingOutcome();
    await evidence.close();
    expect((await outcome).seq).toBe(2);
    expect(storedSeqs(dir)).toEqual([1, 2]);
  });
});
