/**
 * The ledger on its own (issue 3): how fast `verifyChain` checks a large SQLite ledger, beside
 * `sha256sum` over the same canonical bodies and node's raw chained SHA-256 over the same stored
 * bytes (read the bodies, chain the hashes, nothing else: the peer), at 10k, 100k and all entries,
 * and append throughput from many concurrent writers with and without group commit. Everything
 * runs in this process (verify's workers are its threads) on files in the OS temp dir, removed afterwards.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { createGroupCommit, openLedger, openLedgerReader, type Ledger } from '../src/audit/index.js';
import { systemClock } from '../src/clock.js';
import { sampleEntry } from '../test/support/entries.js';
import { makeTempDir } from '../test/support/temp-dir.js';
import { shipped } from './shipped.js';

const run = promisify(execFile);

/** Entries (or bytes) per second of one timed pass. */
export interface Rate {
  entries: number;
  bytes: number;
  seconds: number;
  /** CPU time of this process meanwhile (all its threads), where measured. */
  cpuSeconds?: number;
}

/** One size of the verify scaling table: the first `n` entries of the ledger, each pass timed in the same run. */
export interface VerifyScale {
  n: number;
  /** `verifyChain` as `flaggate verify --db` runs it: ranges proven in worker threads, then stitched. */
  verify: Rate & { ok: boolean; workers: number };
  /** `verifyChain` on this thread alone (how PostgreSQL and export chains are checked). */
  oneThread: Rate & { ok: boolean };
  /** The peer: the same bodies read from the same file, SHA-256(prev ‖ body) chained in one loop. */
  rawChain: Rate & { digest: string };
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
  /** Node's raw chained SHA-256 over the same stored bytes, all entries (the peer of `verify`). */
  rawChain: Rate & { digest: string };
  /** Verify and its peer at 10k, 100k and all entries. */
  scaling: VerifyScale[];
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

/** Times `work`, wall and process CPU (worker threads included). */
export async function timed<T>(work: () => T | Promise<T>): Promise<{ value: T; seconds: number; cpuSeconds: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await work();
  const cpu = process.cpuUsage(c0);
  return { value, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

/** The peer: the first `n` bodies read from the ledger file, hash = SHA-256(prev ‖ body) chained in one loop, nothing else. */
export function rawChainedSha256(path: string, n: number): { digest: string; bytes: number } {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    let prev = '0'.repeat(64);
    let bytes = 0;
    for (const body of db.prepare<[number], string>('SELECT body FROM audit_entries WHERE seq <= ? ORDER BY seq').pluck().iterate(n)) {
      prev = createHash('sha256').update(prev).update(body).digest('hex');
      bytes += body.length;
    }
    return { digest: prev, bytes };
  } finally {
    db.close();
  }
}

/** Verify (workers, one thread) and the raw chained SHA-256 over the first `n` entries, back to back. */
async function measureVerifyScale(path: string, n: number): Promise<VerifyScale> {
  const { openLedgerReader: openShippedReader, verifyChain } = await shipped.audit();
  const reader = openShippedReader(path);
  try {
    const chain = reader.chainId === undefined ? {} : { chainId: reader.chainId };
    const raw = await timed(() => rawChainedSha256(path, n));
    const bytes = raw.value.bytes;
    const workers = availableParallelism();
    const par = await timed(() => verifyChain(reader.read, { ...chain, to: n, prove: reader.prove({ workers }) }));
    const one = await timed(() => verifyChain(reader.read, { ...chain, to: n }));
    return {
      n,
      verify: { entries: par.value.entries, bytes, seconds: par.seconds, cpuSeconds: par.cpuSeconds, ok: par.value.ok && par.value.entries === n, workers },
      oneThread: { entries: one.value.entries, bytes, seconds: one.seconds, cpuSeconds: one.cpuSeconds, ok: one.value.ok && one.value.entries === n },
      rawChain: { entries: n, bytes, seconds: raw.seconds, cpuSeconds: raw.cpuSeconds, digest: raw.value.digest },
    };
  } finally {
    reader.close();
  }
}

/** Verify and its peer at 10k, 100k and all `n` entries (sizes above `n` are skipped). */
export async function measureVerifyScaling(path: string, n: number, log: (msg: string) => void): Promise<VerifyScale[]> {
  const sizes = [...new Set([10_000, 100_000, n].filter((size) => size <= n))];
  const out: VerifyScale[] = [];
  for (const size of sizes) {
    log(`ledger: verify and raw chained SHA-256 over ${size} entries`);
    out.push(await measureVerifyScale(path, size));
  }
  return out;
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

/**
 * Builds the large ledger (or measures `path`, an existing one of `n` entries), verifies it, hashes its
 * bodies with sha256sum and with node's raw chained SHA-256, then measures appends.
 */
export async function measureLedger(o: { n: number; appendSeconds: number; log: (msg: string) => void; path?: string }): Promise<LedgerResults> {
  const tmp = makeTempDir('flaggate-bench-ledger-');
  const started = performance.now();
  try {
    const path = o.path ?? join(tmp.dir, 'ledger.sqlite');
    o.log(o.path ? `ledger: measuring ${o.path}` : `ledger: building ${o.n} entries (appendMany, ${BUILD_BATCH} per transaction)`);
    const build = o.path ? { seconds: 0 } : buildLedger(path, o.n);
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

    const scaling = await measureVerifyScaling(path, o.n, o.log);
    const whole = scaling[scaling.length - 1]!;
    const verify = { ...whole.verify, bytes };
    const rawChain = { ...whole.rawChain, bytes };

    const appends: AppendRun[] = [];
    const runs: Array<[string, number, boolean]> = [
      ['`ledger.append`, one transaction each', 1, false],
      ['`ledger.append`, one transaction each', 64, false],
      ['`createGroupCommit(ledger).append`', 64, true],
    ];
    for (const [label, writers, grouped] of o.appendSeconds > 0 ? runs : []) {
      o.log(`ledger: appends, ${writers} writer(s), ${grouped ? 'group commit' : 'one transaction each'}`);
      const ledger = openLedger({ path: join(tmp.dir, `append-${appends.length}.sqlite`), chainId: 'bench-append', clock: systemClock });
      try {
        appends.push(await appendRun(ledger, label, writers, o.appendSeconds, grouped));
      } finally {
        ledger.close();
      }
    }
    return { n: o.n, build: { ...build, batch: BUILD_BATCH, dbBytes }, verify, sha256sum, rawChain, scaling, dump, appends, totalSeconds: (performance.now() - started) / 1000 };
  } finally {
    tmp.cleanup();
  }
}

/**
 * The verify scaling table (10k, 100k, all entries) beside its peer, node's raw chained SHA-256 over
 * the same stored bytes, measured in the same run; the ratio is verify's time over the peer's.
 */
export function renderVerifyScaling(l: LedgerResults): string[] {
  const rate = (r: Rate) => (r.entries / r.seconds).toFixed(0);
  const cpu = (r: Rate) => (r.cpuSeconds === undefined ? '' : r.cpuSeconds.toFixed(2));
  const rows = l.scaling.flatMap((s) => [
    [s.n, `\`verifyChain\`, ${s.verify.workers} worker threads (\`flaggate verify --db\`)`, s.verify.seconds.toFixed(2), cpu(s.verify), rate(s.verify), (s.verify.seconds / s.rawChain.seconds).toFixed(2), s.verify.ok ? 'ok' : 'FAILED'],
    [s.n, '`verifyChain`, one thread', s.oneThread.seconds.toFixed(2), cpu(s.oneThread), rate(s.oneThread), (s.oneThread.seconds / s.rawChain.seconds).toFixed(2), s.oneThread.ok ? 'ok' : 'FAILED'],
    [s.n, 'raw chained SHA-256 over the same stored bytes (peer)', s.rawChain.seconds.toFixed(2), cpu(s.rawChain), rate(s.rawChain), '1.00', s.rawChain.digest.slice(0, 12) + '…'],
  ]);
  return [
    '| entries | pass | seconds | CPU seconds | entries/s | × peer | result |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ];
}
