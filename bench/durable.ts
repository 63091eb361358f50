/**
 * The durable work of the record and replicate stages on their own, in this process: a ledger
 * append (one SQLite commit), a sink-cursor commit, and one JSON Lines delivery (append + fsync),
 * each on a fresh data dir in the OS temp dir, where the benchmarked flaggate keeps its data too.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedger, type AuditEntry } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { createJsonlSink } from '../src/replicate/index.js';
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
  sinkCursor: Quantiles;
  jsonlDeliver: Quantiles;
}

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

/** Measures a bare fsync, a ledger append, a sink-cursor commit and a JSON Lines delivery. */
export async function measureDurableCosts(n = 500): Promise<DurableCosts> {
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-bench-durable-'));
  const ledger = openLedger({ path: join(dir, 'ledger.sqlite'), chainId: 'bench', clock: systemClock });
  const sink = createJsonlSink({ name: 'jsonl', path: join(dir, 'audit.jsonl'), required: true });
  const fd = openSync(join(dir, 'probe'), 'a');
  try {
    const line = Buffer.from(`${'x'.repeat(600)}\n`);
    const fsync = await timed(n, () => {
      writeSync(fd, line);
      fsyncSync(fd);
    });
    const entries: AuditEntry[] = [];
    const ledgerAppend = await timed(n, (i) => entries.push(ledger.append(sampleEntry(i))));
    const sinkCursor = await timed(n, (i) => ledger.setSinkCursor('jsonl', i + 1));
    const jsonlDeliver = await timed(n, (i) => sink.deliver([entries[i]!]));
    return { fsync: q(fsync), ledgerAppend: q(ledgerAppend), sinkCursor: q(sinkCursor), jsonlDeliver: q(jsonlDeliver) };
  } finally {
    closeSync(fd);
    await sink.close();
    ledger.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
