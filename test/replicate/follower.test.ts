import { afterEach, describe, expect, it } from 'vitest';
import { openLedger, type AuditEntry } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { createReplicator, type Sink } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An in-memory sink that can be switched off; counts deliveries. */
function switchableSink(name: string) {
  const state = { down: false, deliveries: 0, held: [] as number[] };
  const sink: Sink = {
    name,
    required: true,
    async deliver(entries: AuditEntry[]) {
      state.deliveries += 1;
      if (state.down) throw new Error('connection refused');
      for (const e of entries) if (!state.held.includes(e.seq)) state.held.push(e.seq);
      return Math.max(...state.held);
    },
    async close() {},
  };
  return { sink, state };
}

function setup(n: number) {
  const tmp = makeTempDir();
  const clock = fixedClock(1_700_000_000_000);
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'f', clock });
  cleanups.push(() => tmp.cleanup(), () => ledger.close());
  for (let i = 1; i <= n; i += 1) ledger.append(sampleEntry(i));
  return { ledger, clock };
}

describe('createReplicator', () => {
  it('nudgeSoon delivers an entry nobody waits for with the next delivery, or on its own after the delay', async () => {
    const { ledger, clock } = setup(1);
    const { sink, state } = switchableSink('central');
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), clock, settleDelayMs: 150 });
    cleanups.push(() => replicator.close());
    await replicator.through(1);
    expect(state.deliveries).toBe(1);
    // An outcome settled (nudgeSoon), then the next change's decision waited for (through): one delivery carries both.
    ledger.append(sampleEntry(2));
    replicator.nudgeSoon();
    ledger.append(sampleEntry(3));
    await replicator.through(3);
    expect(state.deliveries).toBe(2);
    expect(state.held).toEqual([1, 2, 3]);
    // With no change after it, the entry still goes upstream after the delay.
    ledger.append(sampleEntry(4));
    replicator.nudgeSoon();
    await new Promise((r) => setTimeout(r, 30));
    expect(state.held).toEqual([1, 2, 3]);
    await expect.poll(() => state.held, { timeout: 2000 }).toEqual([1, 2, 3, 4]);
    expect(state.deliveries).toBe(3);
  });

  it('rejects with REPLICATE_UNACKED at once, without a delivery, when a required sink is past the backlog limit', async () => {
    const { ledger, clock } = setup(5);
    const { sink, state } = switchableSink('central');
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), clock, maxBacklog: 3, retry: { baseMs: 60_000, maxMs: 60_000 } });
    cleanups.push(() => replicator.close());
    await expect(replicator.through(5)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { sink: 'central', seq: 5, acked: 0, maxBacklog: 3 } });
    expect(state.deliveries).toBe(0);
    await replicator.through(3);
    await replicator.through(5);
    expect(state.held).toEqual([1, 2, 3, 4, 5]);
  });

  it('takes no acknowledgement past the entries a sink was sent: the entry is not upstream, and the wait for it fails', async () => {
    const { ledger, clock } = setup(3);
    const sink: Sink = { name: 'liar', required: true, deliver: async (entries) => entries.at(-1)!.seq + 500, close: async () => undefined };
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), clock, retry: { baseMs: 60_000, maxMs: 60_000 } });
    cleanups.push(() => replicator.close());
    await expect(replicator.through(3)).rejects.toThrow();
    expect(ledger.sinkCursor('liar')).toBe(0);
  });

  it('delivers a backlog in batches, in order, each entry once', async () => {
    const { ledger, clock } = setup(23);
    const { sink, state } = switchableSink('central');
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), clock, batchSize: 10 });
    cleanups.push(() => replicator.close());
    await replicator.through(23);
    expect(state.deliveries).toBe(3);
    expect(state.held).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(ledger.sinkCursor('central')).toBe(23);
  });

  it('drains in the background once a failing sink is back, and reports lag in entries and seconds', async () => {
    const { ledger, clock } = setup(4);
    const { sink, state } = switchableSink('central');
    const metrics = createMetrics();
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics, clock, retry: { baseMs: 5, maxMs: 20 } });
    cleanups.push(() => replicator.close());
    state.down = true;
    await expect(replicator.through(4)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED' });
    clock.advance(90_000);
    expect(await metrics.registry.getSingleMetricAsString('flaggate_replicate_lag_entries')).toMatch(/sink="central"} 4/);
    expect(await metrics.registry.getSingleMetricAsString('flaggate_replicate_lag_seconds')).toMatch(/sink="central"} 90/);
    state.down = false;
    for (let i = 0; i < 200 && ledger.sinkCursor('central') < 4; i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(state.held).toEqual([1, 2, 3, 4]);
    expect(await metrics.registry.getSingleMetricAsString('flaggate_replicate_lag_entries')).toMatch(/sink="central"} 0/);
    expect(await metrics.registry.getSingleMetricAsString('flaggate_replicate_delivery_duration_seconds')).toMatch(/_count{sink="central"} [2-9]/);
  });
});
