import { appendFileSync, closeSync, mkdirSync, openSync, readFileSync, renameSync, rmdirSync, writeFileSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedger, type AuditEntry } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { createJsonlSink, createReplicator, type Sink } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function setup() {
  const tmp = makeTempDir();
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'test', clock: fixedClock(0) });
  cleanups.push(() => tmp.cleanup(), () => ledger.close());
  return { dir: tmp.dir, ledger };
}

const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; hash: string });

describe('createJsonlSink', () => {
  it('appends each entry once, in order, even when delivered twice', async () => {
    const { dir, ledger } = setup();
    const entries = [1, 2, 3].map((n) => ledger.append(sampleEntry(n)));
    const sink = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    cleanups.push(() => sink.close());
    expect(await sink.deliver(entries.slice(0, 2))).toBe(2);
    expect(await sink.deliver(entries)).toBe(3);
    expect(lines(`${dir}/audit.jsonl`).map((l) => l.seq)).toEqual([1, 2, 3]);
  });

  it('knows what it holds after a restart, ignoring a torn last line', async () => {
    const { dir, ledger } = setup();
    const entries = [1, 2, 3].map((n) => ledger.append(sampleEntry(n)));
    const first = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    await first.deliver(entries.slice(0, 2));
    await first.close();
    appendFileSync(`${dir}/audit.jsonl`, '{"seq":3,"trunc');
    const second = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    cleanups.push(() => second.close());
    expect(await second.deliver(entries.slice(0, 2))).toBe(2);
    // The torn line is gone, so the entry it was delivers on a line of its own, readable again.
    expect(await second.deliver(entries)).toBe(3);
    expect(readFileSync(`${dir}/audit.jsonl`, 'utf8').split('\n').filter((l) => l !== '').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2, 3]);
  });

  it("takes no other chain's records for its own: a stream ending with an old chain's entries still gets every entry of this chain", async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries = [1, 2, 3].map((n) => ledger.append(sampleEntry(n)));
    const before = createJsonlSink({ name: 'jsonl', path, required: true });
    await before.deliver(entries.slice(0, 1));
    await before.close();
    // Then a chain id changed while the stream was kept: the file ends with the old chain's seq 500.
    appendFileSync(path, JSON.stringify({ ...entries[0], chain_id: 'old-chain', seq: 500 }) + '\n');
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    cleanups.push(() => sink.close());
    expect(await sink.head!('test')).toEqual({ seq: 1, hash: entries[0]!.hash });
    expect(await sink.deliver(entries)).toBe(3);
    expect(lines(path).filter((l) => (l as { chain_id?: string }).chain_id === 'test').map((l) => l.seq)).toEqual([1, 2, 3]);
    expect(await sink.head!('test')).toEqual({ seq: 3, hash: entries[2]!.hash });
    expect(await sink.head!('old-chain')).toMatchObject({ seq: 500 });
  });

  it('refuses one delivery that holds records of two chains', async () => {
    const { dir, ledger } = setup();
    const entry = ledger.append(sampleEntry(1));
    const sink = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    cleanups.push(() => sink.close());
    await expect(sink.deliver([entry, { ...entry, chain_id: 'other', seq: 2 }])).rejects.toThrow('2 chains');
  });

  it('reports what a stream swapped for an older copy holds, so the entries it lost are sent again before any after them', async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries = [1, 2, 3, 4, 5].map((n) => ledger.append(sampleEntry(n)));
    const first = createJsonlSink({ name: 'jsonl', path, required: true });
    await first.deliver(entries.slice(0, 1));
    const backup = readFileSync(path);
    await first.deliver(entries.slice(0, 4));
    await first.close();
    ledger.setSinkCursor('jsonl', 4);
    writeFileSync(path, backup); // the stream now holds seq 1 only
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    expect(await sink.deliver(entries.slice(4))).toBe(1);
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    await replicator.through(5);
    expect(lines(path).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines(path).map((l) => l.hash)).toEqual(entries.map((e) => e.hash));
  });

  it('notices a stream changed under it while it runs: an older copy written back in place, or the file rotated away by rename', async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries: AuditEntry[] = [];
    const upTo = (n: number) => {
      while (entries.length < n) entries.push(ledger.append(sampleEntry(entries.length + 1)));
    };
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    upTo(1);
    await replicator.through(1);
    const backup = readFileSync(path);
    upTo(4);
    await replicator.through(4);
    writeFileSync(path, backup); // same file, seq 1 only again
    upTo(5);
    await replicator.through(5);
    expect(lines(path).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    renameSync(path, `${path}.1`);
    writeFileSync(path, '');
    upTo(7);
    await replicator.through(7);
    expect(lines(`${path}.1`).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(lines(path).map((l) => l.seq)).toEqual([6, 7]);
    expect(lines(path).map((l) => l.hash)).toEqual(entries.slice(5).map((e) => e.hash));
  });

  it('keeps its open file when the stream cannot be opened again, and reopens the checkpoint file rotated beside the stream', async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries = [1, 2, 3].map((n) => ledger.append(sampleEntry(n)));
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    cleanups.push(() => sink.close());
    const checkpoint = (seq: number) => ({ chainId: 'test', seq, hash: entries[seq - 1]!.hash, time: '2030-01-07T10:00:00.000Z', kid: 'k', jws: `jws-${seq}` });
    expect(await sink.deliver(entries.slice(0, 1))).toBe(1);
    await sink.deliverCheckpoints!([checkpoint(1)]);
    // Rotated away, and a directory where the stream was: the delivery fails, nothing is closed.
    renameSync(path, `${path}.1`);
    renameSync(`${dir}/audit.checkpoints.jsonl`, `${dir}/audit.checkpoints.jsonl.1`);
    mkdirSync(path);
    await expect(sink.deliver(entries.slice(0, 2))).rejects.toThrow();
    const other = openSync(`${dir}/other`, 'w+');
    try {
      rmdirSync(path);
      writeFileSync(path, '');
      writeFileSync(`${dir}/audit.checkpoints.jsonl`, '');
      expect(await sink.deliver(entries.slice(1, 3))).toBe(3);
      await sink.deliverCheckpoints!([checkpoint(1), checkpoint(3)]);
      // The other file is still its own: the sink never closed a descriptor it no longer held.
      writeSync(other, 'mine');
      expect(readFileSync(`${dir}/other`, 'utf8')).toBe('mine');
    } finally {
      closeSync(other);
    }
    expect(lines(path).map((l) => l.seq)).toEqual([2, 3]);
    expect(readFileSync(`${dir}/audit.checkpoints.jsonl`, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 3]);
    expect(await sink.latestCheckpoint!('test')).toMatchObject({ seq: 3 });
    expect(readFileSync(`${dir}/audit.checkpoints.jsonl.1`, 'utf8').trim().split('\n')).toHaveLength(1);
  });

  it("refuses to continue a stream whose last entry of the chain is not the one the next entry links to", async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries = [1, 2, 3].map((n) => ledger.append(sampleEntry(n)));
    writeFileSync(path, JSON.stringify({ ...entries[0], hash: 'f'.repeat(64) }) + '\n');
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    cleanups.push(() => sink.close());
    await expect(sink.deliver(entries)).rejects.toThrow('not this ledger');
    expect(lines(path)).toHaveLength(1);
  });

  it('starts a stream that holds none of the chain (new, or rotated away by a shipper) where it is sent', async () => {
    const { dir, ledger } = setup();
    const path = `${dir}/audit.jsonl`;
    const entries = [1, 2, 3, 4].map((n) => ledger.append(sampleEntry(n)));
    writeFileSync(path, '');
    const sink = createJsonlSink({ name: 'jsonl', path, required: true });
    cleanups.push(() => sink.close());
    expect(await sink.deliver(entries.slice(2))).toBe(4);
    expect(lines(path).map((l) => l.seq)).toEqual([3, 4]);
  });

  it('removes a torn line of the checkpoint file on open too', async () => {
    const { dir } = setup();
    const path = `${dir}/audit.jsonl`;
    const first = createJsonlSink({ name: 'jsonl', path, required: true });
    await first.close();
    writeFileSync(`${dir}/audit.checkpoints.jsonl`, '{"seq":1,"tr');
    const second = createJsonlSink({ name: 'jsonl', path, required: true });
    cleanups.push(() => second.close());
    expect(readFileSync(`${dir}/audit.checkpoints.jsonl`, 'utf8')).toBe('');
  });
});

/**
 * A required sink that records each delivery's hint (`name alone` or `name shared`) into `log` and
 * answers after `ms`; `beforeWait` runs inside its first delivery, before it waits.
 */
function hintedSink(log: string[], name: string, o: { local: boolean; sendsAtOnce?: boolean; ms?: number; done?: boolean; beforeWait?: () => void }): Sink {
  let first = true;
  return {
    name,
    required: true,
    local: o.local,
    sendsAtOnce: o.sendsAtOnce ?? !o.local,
    async deliver(entries, hint) {
      log.push(`${name} ${hint?.alone === true ? 'alone' : 'shared'}`);
      if (first) o.beforeWait?.();
      first = false;
      await new Promise((resolve) => setTimeout(resolve, o.ms ?? 5));
      if (o.done) log.push(`${name} done`);
      return entries.at(-1)!.seq;
    },
    async close() {},
  };
}

describe('createReplicator', () => {
  it('delivers everything up to a seq to every required sink and persists the cursor', async () => {
    const { dir, ledger } = setup();
    const sink = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    for (let n = 1; n <= 5; n += 1) ledger.append(sampleEntry(n));
    await Promise.all([replicator.through(3), replicator.through(5), replicator.through(1)]);
    expect(ledger.sinkCursor('jsonl')).toBe(5);
    expect(lines(`${dir}/audit.jsonl`).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5]);
  });

  it('tells a sink when one change waits for a delivery alone: not when others wait too, nor when nobody does', async () => {
    const { dir, ledger } = setup();
    const hints: boolean[] = [];
    const file = createJsonlSink({ name: 'jsonl', path: `${dir}/audit.jsonl`, required: true });
    let release: () => void = () => undefined;
    const gate = () => new Promise<void>((resolve) => (release = resolve));
    let gated: Promise<void> | undefined;
    const watched: Sink = {
      ...file,
      async deliver(entries, hint) {
        hints.push(hint?.alone === true);
        if (gated) await gated;
        return file.deliver(entries, hint);
      },
    };
    const replicator = createReplicator({ source: ledger, sinks: [watched], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    await replicator.through(1);
    expect(hints).toEqual([true]);
    // A delivery held while two more changes come to wait: the one that carries both is not alone.
    ledger.append(sampleEntry(2));
    gated = gate();
    const first = replicator.through(2);
    await new Promise((r) => setImmediate(r));
    ledger.append(sampleEntry(3));
    ledger.append(sampleEntry(4));
    const others = [replicator.through(3), replicator.through(4)];
    gated = undefined;
    release();
    await Promise.all([first, ...others]);
    expect(hints.slice(1)).toEqual([true, false]);
    // The background catch-up of entries nobody waits for.
    ledger.append(sampleEntry(5));
    ledger.append(sampleEntry(6));
    replicator.nudge();
    await expect.poll(() => hints.length).toBe(4);
    expect(hints[3]).toBe(false);
    expect(lines(`${dir}/audit.jsonl`).map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('tells neither of two required sinks that a change waits for it alone, so their deliveries overlap', async () => {
    const { ledger } = setup();
    const hints: boolean[] = [];
    const recording = (name: string): Sink => ({
      name,
      required: true,
      async deliver(entries, hint) {
        hints.push(hint?.alone === true);
        return entries.at(-1)!.seq;
      },
      async close() {},
    });
    const replicator = createReplicator({ source: ledger, sinks: [recording('a'), recording('b')], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    await replicator.through(1);
    expect(hints).toEqual([false, false]);
  });

  it('tells a local sink beside network sinks that one change waits for it alone, and starts it after they have sent', async () => {
    const { ledger } = setup();
    const events: string[] = [];
    // A network sink's request is on its socket once deliver has run up to its first wait.
    const recording = (name: string, local: boolean, sendsAtOnce = !local) => hintedSink(events, name, { local, sendsAtOnce, done: true });
    // The local sink comes first in the configuration: it still starts after the network one.
    const replicator = createReplicator({ source: ledger, sinks: [recording('file', true), recording('postgres', false)], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    await replicator.through(1);
    expect(events.slice(0, 2)).toEqual(['postgres shared', 'file alone']);
    expect(events).toHaveLength(4);

    // Two local sinks: a blocking write would hold up the other's, so neither is alone.
    events.length = 0;
    const two = createReplicator({ source: ledger, sinks: [recording('file-a', true), recording('file-b', true), recording('net', false)], metrics: createMetrics() });
    cleanups.push(() => two.close());
    await two.through(1);
    expect(events.filter((e) => !e.endsWith('done')).sort()).toEqual(['file-a shared', 'file-b shared', 'net shared']);

    // Beside a network sink that sends later (fetch queues its request), the write would go first and the two would not overlap.
    events.length = 0;
    const later = createReplicator({ source: ledger, sinks: [recording('file-c', true), recording('fetch', false, false)], metrics: createMetrics() });
    cleanups.push(() => later.close());
    await later.through(1);
    expect(events.filter((e) => !e.endsWith('done')).sort()).toEqual(['fetch shared', 'file-c shared']);
  });

  it('asks again after the turn it waited: a change that came meanwhile makes the local sink share the loop', async () => {
    const { ledger } = setup();
    const hints: string[] = [];
    let second: Promise<void> | undefined;
    // While the file's delivery waits its turn (told alone when it was started), a second change comes to wait.
    const arrive = () => {
      ledger.append(sampleEntry(2));
      second = replicator.through(2);
    };
    const sinks = [hintedSink(hints, 'file', { local: true }), hintedSink(hints, 'postgres', { local: false, beforeWait: arrive })];
    const replicator = createReplicator({ source: ledger, sinks, metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    await replicator.through(1);
    await second;
    expect(hints.slice(0, 2)).toEqual(['postgres shared', 'file shared']);
  });

  it('reads which sinks one change waits for when it asks, not from an earlier wait that has ended', async () => {
    const { ledger } = setup();
    const hints: string[] = [];
    const sink = (name: string, local: boolean, ms: number) => hintedSink(hints, name, { local, ms });
    for (let n = 1; n <= 10; n++) ledger.append(sampleEntry(n));
    ledger.setSinkCursor('fb', 4);
    ledger.setSinkCursor('fc', 4);
    const replicator = createReplicator({ source: ledger, sinks: [sink('fb', true, 20), sink('fc', true, 20), sink('pg', false, 1)], metrics: createMetrics(), batchSize: 2 });
    cleanups.push(() => replicator.close());
    // A wait for seq 3, which only pg lacks, ends while the two local sinks still catch up for seq 10:
    // they still deliver beside each other, so neither may block the loop.
    const all = replicator.through(10);
    await replicator.through(3);
    await all;
    expect(hints.filter((h) => h.startsWith('f'))).not.toContain('fb alone');
    expect(hints.filter((h) => h.startsWith('f'))).not.toContain('fc alone');
  });

  it('tells an optional sink catching up in the background nothing, while one change waits on the required one', async () => {
    const { ledger } = setup();
    const hints: Array<[string, boolean]> = [];
    const recording = (name: string, required: boolean): Sink => ({
      name,
      required,
      async deliver(entries, hint) {
        hints.push([name, hint?.alone === true]);
        return entries.at(-1)!.seq;
      },
      async close() {},
    });
    const replicator = createReplicator({ source: ledger, sinks: [recording('required', true), recording('optional', false)], metrics: createMetrics() });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    const waited = replicator.through(1);
    replicator.nudge();
    await waited;
    await expect.poll(() => hints.length).toBe(2);
    expect(Object.fromEntries(hints)).toEqual({ required: true, optional: false });
  });

  it('rejects with REPLICATE_UNACKED when a required sink fails, then catches up when it recovers', async () => {
    const { ledger } = setup();
    let down = true;
    const held: number[] = [];
    const flaky: Sink = {
      name: 'flaky',
      required: true,
      async deliver(entries) {
        if (down) throw new Error('connection refused');
        for (const e of entries) if (!held.includes(e.seq)) held.push(e.seq);
        return entries.at(-1)!.seq;
      },
      async close() {},
    };
    const metrics = createMetrics();
    const replicator = createReplicator({ source: ledger, sinks: [flaky], metrics });
    cleanups.push(() => replicator.close());
    ledger.append(sampleEntry(1));
    await expect(replicator.through(1)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { sink: 'flaky', seq: 1 } });
    expect(ledger.sinkCursor('flaky')).toBe(0);
    ledger.append(sampleEntry(2));
    down = false;
    await replicator.through(2);
    expect(held).toEqual([1, 2]);
    expect((await metrics.registry.getSingleMetricAsString('flaggate_replicate_failures_total'))).toMatch(/sink="flaky"} 1/);
  });
});
