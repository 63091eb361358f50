/**
 * The ledger on its own (issue 3): how fast `verifyChain` checks a large SQLite ledger, beside
 * `sha256sum` over the same canonical bodies (hashing the bytes without parsing or canonical
 * checks: the floor), and append throughput from many concurrent writers with and without group
 * commit. Everything runs in this process on files in the OS temp dir, removed afterwards.
 */
import { execFile } from 'node:child_process';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGroupCommit, openLedger, openLedgerReader, verifyChain, type Ledger } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { sampleEntry } from '../test/support/entries.js';
import { makeTempDir } from '../test/support/temp-dir.js';

const run = promisify(execFile);

/** Entries (or bytes) per second of one timed pass. */
export interface Rate {
  entries: number;
  bytes: number;
  seconds: number;
}

/** One append run: `writers` concurrent loops for a fixed time. */
export interface AppendRun {
  label: string;
  writers: number;
  entries: number;
  seconds: number;
  /** Committed transactions (each one fsync of the WAL). */
  commits: number;
}

export interface LedgerResults {
  n: number;
  build: { seconds: number; batch: number; dbBytes: number };
  verify: Rate & { ok: boolean };
  sha256sum: Rate & { digest: string };
  /** Writing the bodies file, for the record (not a peer). */
  dump: { seconds: number };
  appends: AppendRun[];
  /** The whole section, build included. */
  totalSeconds: number;
}

const BUILD_BATCH = 10_000;

/** Builds an `n`-entry ledger with `appendMany` batches; returns the path and the build time. */
export function buildLedger(path: string, n: number, chainId = 'bench'): { seconds: number } {
  const ledger = openLedger({ path, chainId, clock: systemClock });
  const t0 = performance.now();
  try {
    for (let done = 0; done < n; ) {
      const size = Math.min(BUILD_BATCH, n - done);
      ledger.appendMany(Array.from({ length: size }, (_, i) => sampleEntry(done + i + 1)));
      done += size;
    }
  } finally {
    ledger.close();
  }
  return { seconds: (performance.now() - t0) / 1000 };
}

/** Writes every row's `body` (the canonical JSON the chain hashes), concatenated, to `out`; returns its size. */
function dumpBodies(path: string, out: string): number {
  const reader = openLedgerReader(path);
  const fd = openSync(out, 'w');
  let bytes = 0;
  try {
    for (let after = 0; ; ) {
      const rows = reader.read(after, 10_000) as Array<{ seq: number; body: string }>;
      if (rows.length === 0) break;
      const chunk = Buffer.from(rows.map((r) => r.body).join(''), 'utf8');
      writeSync(fd, chunk);
      bytes += chunk.length;
      after = rows[rows.length - 1]!.seq;
    }
  } finally {
    closeSync(fd);
    reader.close();
  }
  return bytes;
}

/**
 * `writers` loops appending for `seconds`: each through `ledger.append` (its own transaction and
 * fsync), or through one group commit shared by all of them.
 */
async function appendRun(ledger: Ledger, label: string, writers: number, seconds: number, grouped: boolean): Promise<AppendRun> {
  let commits = 0;
  const counted = { prepare: ledger.prepare, commit: (entries: Parameters<Ledger['commit']>[0]) => (commits++, ledger.commit(entries)) };
  const group = createGroupCommit(counted);
  let entries = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; performance.now() < deadline; i++) {
        const entry = sampleEntry(w * 1_000_000 + i);
        if (grouped) await group.append(entry);
        else {
          // A writer yields between appends, as a request handler would; the append itself blocks.
          await new Promise<void>((r) => setImmediate(r));
          ledger.append(entry);
          commits++;
        }
        entries++;
      }
    }),
  );
  return { label, writers, entries, seconds: (performance.now() - t0) / 1000, commits };
}

/** Builds the large ledger, verifies it, hashes its bodies with sha256sum, then measures appends. */
export async function measureLedger(o: { n: number; appendSeconds: number; log: (msg: string) => void }): Promise<LedgerResults> {
  const tmp = makeTempDir('flaggate-bench-ledger-');
  const started = performance.now();
  try {
    const path = join(tmp.dir, 'ledger.sqlite');
    o.log(`ledger: building ${o.n} entries (appendMany, ${BUILD_BATCH} per transaction)`);
    const build = buildLedger(path, o.n);
    const dbBytes = statSync(path).size + (statSync(`${path}-wal`, { throwIfNoEntry: false })?.size ?? 0);

    o.log('ledger: writing the bodies file for sha256sum');
    const bodies = join(tmp.dir, 'bodies.txt');
    const d0 = performance.now();
    const bytes = dumpBodies(path, bodies);
    const dump = { seconds: (performance.now() - d0) / 1000 };

    o.log('ledger: sha256sum over the bodies');
    const s0 = performance.now();
    const { stdout } = await run('sha256sum', [bodies]);
    const sha256sum = { entries: o.n, bytes, seconds: (performance.now() - s0) / 1000, digest: stdout.split(' ')[0] ?? '' };

    o.log('ledger: verifyChain over the whole ledger');
    const reader = openLedgerReader(path);
    let verify: LedgerResults['verify'];
    try {
      const v0 = performance.now();
      const report = await verifyChain(reader.read, reader.chainId === undefined ? {} : { chainId: reader.chainId });
      verify = { entries: report.entries, bytes, seconds: (performance.now() - v0) / 1000, ok: report.ok && report.entries === o.n };
    } finally {
      reader.close();
    }

    const appends: AppendRun[] = [];
    const runs: Array<[string, number, boolean]> = [
      ['`ledger.append`, one transaction each', 1, false],
      ['`ledger.append`, one transaction each', 64, false],
      ['`createGroupCommit(ledger).append`', 64, true],
    ];
    for (const [label, writers, grouped] of runs) {
      o.log(`ledger: appends, ${writers} writer(s), ${grouped ? 'group commit' : 'one transaction each'}`);
      const ledger = openLedger({ path: join(tmp.dir, `append-${appends.length}.sqlite`), chainId: 'bench-append', clock: systemClock });
      try {
        appends.push(await appendRun(ledger, label, writers, o.appendSeconds, grouped));
      } finally {
        ledger.close();
      }
    }
    return { n: o.n, build: { ...build, batch: BUILD_BATCH, dbBytes }, verify, sha256sum, dump, appends, totalSeconds: (performance.now() - started) / 1000 };
  } finally {
    tmp.cleanup();
  }
}
