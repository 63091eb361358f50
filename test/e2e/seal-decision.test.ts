/**
 * With the embedded TSA, an allowed decision is committed and covered in one transaction: the token
 * over it is already stored when the entry is, so `cover` before the forward stamps nothing more;
 * outcomes and refusals are covered shortly after, by one token over the head.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { changeFlag } from '../replicate/sidecar-process.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

let app: TestFlaggate;
beforeAll(async () => {
  app = await startTestFlaggate();
});
afterAll(async () => {
  await app?.close();
});

const tokens = () => {
  const reader = openLedgerReader(`${app.dataDir}/ledger.sqlite`);
  try {
    return reader.tokens().map((t) => t.coversSeq);
  } finally {
    reader.close();
  }
};

describe('an allowed decision sealed in its own commit', () => {
  it('is covered by exactly one token over its seq, and the outcome by at most one more', async () => {
    const release = await app.token('riley', 'release_engineer');
    const before = tokens().length;
    const res = await changeFlag(app.proxyUrl, release, 'checkout.new-flow', true, 'sealed');
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const decision = app.ledger.entriesAfter(0, 10_000).find((e) => e.entry_type === 'change.decision' && e.decision.allow)!;
    const after = tokens();
    expect(after).toContain(decision.seq);
    expect(after.filter((seq) => seq === decision.seq)).toHaveLength(1);
    expect(after.length - before).toBeLessThanOrEqual(2); // the decision's, and at most one over the outcome
  });
});
