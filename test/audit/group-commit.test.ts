import { afterEach, describe, expect, it } from 'vitest';
import { createGroupCommit, openLedger, openLedgerReader, verifyChain } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup() {
  const tmp = makeTempDir();
  const path = `${tmp.dir}/ledger.sqlite`;
  const ledger = openLedger({ path, chainId: 'group', clock: fixedClock(0) });
  cleanups.push(() => {
    ledger.close();
    tmp.cleanup();
  });
  let transactions = 0;
  const counted = { appendMany: (entries: Parameters<typeof ledger.appendMany>[0]) => ((transactions += 1), ledger.appendMany(entries)) };
  return { ledger, path, group: createGroupCommit(counted), transactions: () => transactions };
}

describe('createGroupCommit', () => {
  it('commits concurrent appends together, each answered with its own entry, in order', async () => {
    const { ledger, path, group, transactions } = setup();
    const written = await Promise.all(Array.from({ length: 50 }, (_, i) => group.append(sampleEntry(i + 1))));
    expect(written.map((e) => e.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    expect(written.map((e) => e.reason)).toEqual(Array.from({ length: 50 }, (_, i) => `change ${i + 1}`));
    expect(transactions()).toBe(1);
    expect(ledger.head().seq).toBe(50);
    const reader = openLedgerReader(path);
    try {
      expect(await verifyChain(reader.read)).toMatchObject({ ok: true, entries: 50 });
    } finally {
      reader.close();
    }
  });

  it('rejects every entry of a group that cannot be committed, and writes none of them', async () => {
    const { ledger, group } = setup();
    await group.append(sampleEntry(1));
    const results = await Promise.allSettled([group.append(sampleEntry(2)), group.append(sampleEntry(3, { action: '' })), group.append(sampleEntry(4))]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(ledger.head().seq).toBe(1);
    expect((await group.append(sampleEntry(5))).seq).toBe(2);
  });
});
