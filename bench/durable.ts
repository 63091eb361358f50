/**
 * The durable work of the record and replicate stages on their own, in this process: a ledger
 * append (one SQLite commit), the same with an embedded TSA token stored in its transaction (how an
 * allowed decision is committed), a sink-cursor commit, one JSON Lines delivery (append + fsync),
 * and appends from 64 writers through one group commit; each on a fresh data dir in the OS temp
 * dir, where the benchmarked flaggate keeps its data too. Goals 1 and 2 take their floor from these.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGroupCommit, openLedger, type AuditEntry, type Ledger } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { createJsonlSink } from '../src/replicate/index.js';
import { createEmbeddedTsa, openTokenStore } from '../src/timestamp/index.js';
import { sampleEntry } from '../test/support/entries.js';
import { percentile } from './load.js';

/** p50 and p99 in ms. */
export interface Quantiles {
  p50: number;
  p99: number;
}

/** Each durable step of one ledger entry, measured `n` times. */
export interface DurableCosts {
  fsync: Quantiles;
  ledgerAppend: Quantiles;
  /** A ledger append whose transaction also stores an embedded TSA token over it: an allowed decision's commit. */
  sealedAppend: Quantiles;
  sinkCursor: Quantiles;
  jsonlDeliver: Quantiles;
  /** 64 writers through one group commit, a token stored in each commit: wall ms per entry, the event loop blocked in the commits. */
  groupedEntryMs: number;
  /** Entries per commit in that run. */
  groupedEntriesPerCommit: number;
}

/** How many writers share the group commit: the goals' 64 clients. */
const GROUP_WRITERS = 64;

const q = (samples: number[]): Quantiles => ({ p50: percentile(samples, 50), p99: percentile(samples, 99) });

async function timed(n: number, step: (i: number) => unknown): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await step(i);
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** The durable steps one client's allowed change waits for (beside its decision), `n` samples each (ms). */
export interface LatencySteps {
  /** The outcome entry committed. */
  ledgerAppend: number[];
  /** An entry's JSON Lines delivery (append, fsync). */
  jsonlDeliver: number[];
  /** The decision entry committed with its embedded TSA token in the same transaction. */
  sealedAppend: number[];
}

/** Measures a bare fsync, a ledger append, a sink-cursor commit and a JSON Lines delivery. */
export async function measureDurableCosts(n = 500): Promise<DurableCosts> {
  const steps = await sampleLatencySteps(n);
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-bench-durable-'));
  const ledger = openLedger({ path: join(dir, 'ledger.sqlite'), chainId: 'bench', clock: systemClock });
  // The token table, as the timestamper creates it on the ledger's file: the grouped commits store their tokens in it.
  const tokens = openTokenStore(join(dir, 'ledger.sqlite'));
  const fd = openSync(join(dir, 'probe'), 'a');
  try {
    const line = Buffer.from(`${'x'.repeat(600)}\n`);
    const fsync = await timed(n, () => {
      writeSync(fd, line);
      fsyncSync(fd);
    });
    const sinkCursor = await timed(n, (i) => ledger.setSinkCursor('jsonl', i + 1));
    sealEachCommit(ledger, dir);
    const grouped = await groupedAppends(ledger, 0, GROUP_WRITERS * 40);
    return { fsync: q(fsync), ledgerAppend: q(steps.ledgerAppend), sealedAppend: q(steps.sealedAppend), sinkCursor: q(sinkCursor), jsonlDeliver: q(steps.jsonlDeliver), ...grouped };
  } finally {
    closeSync(fd);
    tokens.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Samples the durable steps of goal 1's floor on a fresh data dir: `n` ledger appends, their JSON
 * Lines deliveries, then `n` appends sealed as an allowed decision is. The bench also runs it in
 * blocks between blocks of one-client changes through flaggate, so that both see the disk as it is then.
 */
export async function sampleLatencySteps(n: number): Promise<LatencySteps> {
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-bench-durable-'));
  const ledger = openLedger({ path: join(dir, 'ledger.sqlite'), chainId: 'bench', clock: systemClock });
  const sink = createJsonlSink({ name: 'jsonl', path: join(dir, 'audit.jsonl'), required: true });
  // The token table, as the timestamper creates it on the ledger's file: the sealed appends store their tokens in it.
  const tokens = openTokenStore(join(dir, 'ledger.sqlite'));
  try {
    const entries: AuditEntry[] = [];
    const ledgerAppend = await timed(n, (i) => entries.push(ledger.append(sampleEntry(i))));
    const jsonlDeliver = await timed(n, (i) => sink.deliver([entries[i]!]));
    sealEachCommit(ledger, dir);
    const sealedAppend = await timed(n, (i) => ledger.append(sampleEntry(n + i)));
    return { ledgerAppend, jsonlDeliver, sealedAppend };
  } finally {
    await sink.close();
    tokens.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Every commit stores an embedded TSA token over its newest entry in its own transaction, as flaggate seals an allowed decision. */
function sealEachCommit(ledger: Ledger, dir: string): void {
  const tsa = createEmbeddedTsa({ dataDir: dir, clock: systemClock });
  ledger.sealWith((committed) => {
    const last = committed[committed.length - 1];
    return last && { coversSeq: last.seq, coversHash: last.hash, genTime: new Date().toISOString(), tsa: 'embedded', token: tsa.stampSync(last.hash) };
  });
}

/** `total` entries from GROUP_WRITERS concurrent writers through one group commit. */
async function groupedAppends(ledger: Ledger, from: number, total: number): Promise<{ groupedEntryMs: number; groupedEntriesPerCommit: number }> {
  let commits = 0;
  const group = createGroupCommit({ prepare: ledger.prepare, commit: (entries) => (commits++, ledger.commit(entries)) });
  const each = total / GROUP_WRITERS;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: GROUP_WRITERS }, async (_, w) => {
      for (let i = 0; i < each; i++) await group.append(sampleEntry(from + w * each + i));
    }),
  );
  return { groupedEntryMs: (performance.now() - t0) / total, groupedEntriesPerCommit: total / commits };
}
