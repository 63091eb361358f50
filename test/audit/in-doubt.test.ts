import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { createFlagdAdapter } from '../../src/platforms/flagd/index.js';
import { openLedger, reconcileInDoubt, type Ledger } from '../../src/audit/index.js';
import { outcomeEntry } from '../../src/audit/new-entry.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

function setup(flags: Record<string, { state: string }>) {
  const tmp = makeTempDir();
  const file = `${tmp.dir}/flags.json`;
  writeFileSync(file, JSON.stringify({ flags: Object.fromEntries(Object.entries(flags).map(([k, v]) => [k, { ...v, variants: { on: true, off: false }, defaultVariant: 'off' }])) }));
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'doubt', clock: fixedClock(0) });
  cleanups.push(() => {
    ledger.close();
    tmp.cleanup();
  });
  return { ledger, adapter: createFlagdAdapter({ path: file, environment: 'production' }) };
}

const decision = (n: number, flag: string, action: 'flag.enable' | 'flag.disable', allow = true) =>
  sampleEntry(n, {
    platform: 'flagd',
    flag_key: flag,
    action,
    previous_state: { state: action === 'flag.enable' ? 'DISABLED' : 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'off' },
    new_state: { state: action === 'flag.enable' ? 'ENABLED' : 'DISABLED' },
    decision: { allow, reasons: ['x'], error_code: allow ? null : 'POLICY_DENIED', policy_revision: 'r', policy_sha256: 'ab'.repeat(32) },
  });

// The ledger's clock stands at 0; by default the sidecar starts long after, so nothing waits.
const timing = { forwardTimeoutMs: 10_000, now: () => 1e12, sleep: async () => undefined };

const reconcile = (ledger: Ledger, adapter: ReturnType<typeof createFlagdAdapter>) =>
  reconcileInDoubt({ ...ledger, entriesAfter: ledger.entriesAfter, head: ledger.head, getMeta: ledger.getMeta, setMeta: ledger.setMeta, append: ledger.append, readState: adapter.readState, settled: adapter.settled, ...timing });

describe('reconcileInDoubt', () => {
  it('writes an outcome for each allowed decision left without one, judged from the platform state', async () => {
    const { ledger, adapter } = setup({ a: { state: 'ENABLED' }, b: { state: 'ENABLED' }, c: { state: 'DISABLED' } });
    const applied = ledger.append(decision(1, 'a', 'flag.enable')); // the file shows it
    const notApplied = ledger.append(decision(2, 'b', 'flag.disable')); // the file does not
    const settled = ledger.append(decision(3, 'c', 'flag.enable'));
    ledger.append(outcomeEntry(settled, { status: 'failed', platformStatus: 500 }));
    ledger.append(decision(4, 'c', 'flag.enable', false)); // denied: nothing in doubt
    const resolved = await reconcile(ledger, adapter);
    expect(resolved.map((r) => [r.decisionId, r.status])).toEqual([
      [applied.decision_id, 'applied'],
      [notApplied.decision_id, 'not_applied'],
    ]);
    const outcomes = ledger.entriesAfter(5, 10);
    expect(outcomes).toHaveLength(2);
    expect(outcomes[0]).toMatchObject({ entry_type: 'change.outcome', decision_id: applied.decision_id, outcome: { status: 'applied', detail: expect.stringContaining('reconciled') } });
  });

  // A full disk refused a change after its decision was committed, and its not_forwarded outcome
  // too; a later change of the same flag was applied. The flag's state is the later change's.
  it('records unknown, not applied, for a decision a later decision of the same flag came after', async () => {
    const { ledger, adapter } = setup({ a: { state: 'ENABLED' }, b: { state: 'ENABLED' } });
    const refused = ledger.append(decision(1, 'a', 'flag.enable')); // never forwarded, its outcome lost
    const other = ledger.append(decision(2, 'b', 'flag.enable')); // another flag: its state still speaks for it
    const later = ledger.append(decision(3, 'a', 'flag.enable')); // applied, its outcome lost in a crash
    const resolved = await reconcile(ledger, adapter);
    expect(resolved.map((r) => [r.decisionId, r.status])).toEqual([
      [refused.decision_id, 'unknown'],
      [other.decision_id, 'applied'],
      [later.decision_id, 'applied'],
    ]);
    expect(ledger.entriesAfter(3, 10)[0]).toMatchObject({ decision_id: refused.decision_id, outcome: { status: 'unknown', detail: expect.stringContaining('a later change of the same flag') } });
  });

  it('takes keys by id as one flag: Flagsmith reaches a feature through several routes and ids', async () => {
    const { ledger, adapter } = setup({ 'feature-state:7': { state: 'ENABLED' }, 'feature:12': { state: 'ENABLED' } });
    const refused = ledger.append(decision(1, 'feature-state:7', 'flag.enable')); // never forwarded, its outcome lost
    const later = ledger.append(decision(2, 'feature:12', 'flag.enable')); // perhaps the same feature, applied
    const resolved = await reconcile(ledger, adapter);
    expect(resolved.map((r) => [r.decisionId, r.status])).toEqual([
      [refused.decision_id, 'unknown'],
      [later.decision_id, 'applied'],
    ]);
  });

  it('records unknown when the platform cannot be read', async () => {
    const { ledger } = setup({});
    const d = ledger.append(decision(1, 'a', 'flag.enable'));
    const broken = createFlagdAdapter({ path: '/proc/definitely/not/here', environment: 'production' });
    const gone = { ...broken, readState: () => Promise.reject(new Error('disk gone')) };
    const [r] = await reconcileInDoubt({ ...ledger, entriesAfter: ledger.entriesAfter, head: ledger.head, getMeta: ledger.getMeta, setMeta: ledger.setMeta, append: ledger.append, readState: gone.readState, settled: gone.settled, ...timing });
    expect(r).toMatchObject({ decisionId: d.decision_id, status: 'unknown' });
  });

  it('reads the state only once a forward of the newest open decision can no longer be under way', async () => {
    const { ledger, adapter } = setup({ a: { state: 'DISABLED' } });
    ledger.append(decision(1, 'a', 'flag.enable')); // decided at 0; the restart comes 2 s later
    const order: string[] = [];
    const resolved = await reconcileInDoubt({
      ...ledger, entriesAfter: ledger.entriesAfter, head: ledger.head, getMeta: ledger.getMeta, setMeta: ledger.setMeta, append: ledger.append, settled: adapter.settled,
      readState: (change) => (order.push('read'), adapter.readState(change)),
      forwardTimeoutMs: 10_000,
      now: () => 2_000,
      sleep: async (ms) => void order.push(`sleep ${ms}`),
    });
    expect(order).toEqual(['sleep 8000', 'read']);
    expect(resolved).toHaveLength(1);
  });

  it('does not look again at what an earlier start-up settled', async () => {
    const { ledger, adapter } = setup({ a: { state: 'ENABLED' } });
    ledger.append(decision(1, 'a', 'flag.enable'));
    expect(await reconcile(ledger, adapter)).toHaveLength(1);
    expect(await reconcile(ledger, adapter)).toHaveLength(0);
    expect(ledger.head().seq).toBe(2);
  });
});
