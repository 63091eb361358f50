/**
 * An export of a large ledger from a running sidecar (a child process, so its memory is its own):
 * bounded memory, /healthz answering throughout, the package verifies, and an aborted download
 * leaves no temporary folder behind. FLAGGATE_LONG=1 runs it on 1,000,000 entries.
 */
import { createWriteStream, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, verifyExport } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const LONG = process.env.FLAGGATE_LONG === '1';
const ENTRIES = LONG ? 1_000_000 : 20_000;
const MiB = 1024 * 1024;
/**
 * How far the sidecar's RSS (sampled every 100 ms) may grow during the export. Holding the ledger
 * in memory took about 21 KiB per entry (4.3 GB for 200k), i.e. 420 MiB at 20k; streaming grows by
 * about 100 MiB here, much of it garbage V8 collects lazily, whatever the ledger's size. An absolute
 * peak is not the claim: it follows start-up and how lazily V8 collects under the machine's load.
 */
const RSS_GROWTH_LIMIT = 200 * MiB;
/** A /healthz reply slower than this counts as not answering (it timed out while the ledger was held in memory). */
const HEALTHZ_TIMEOUT_MS = 2_000;

const work = makeTempDir('flaggate-export-large-');
const dataDir = join(work.dir, 'data');
const exportTmp = join(work.dir, 'tmp'); // the sidecar's TMPDIR: its temporary folders, and only its own
let sidecar: SidecarProcess;
let auditor: string;

const procStatus = (pid: number, field: 'VmRSS' | 'VmHWM') => {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match![1]) * 1024;
};
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The sidecar's export folders (tsx keeps its own cache beside them). */
const exportDirs = (dir: string) => readdirSync(dir).filter((name) => name.startsWith('flaggate-export-'));

async function untilEmpty(dir: string, timeoutMs = 15_000): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = exportDirs(dir);
    if (left.length === 0 || Date.now() > deadline) return left;
    await sleep(50);
  }
}

/** Polls /healthz one request at a time until `stop()`; each reply's latency, or a failure. */
function pollHealth(url: string) {
  const latencies: number[] = [];
  const startedAt: number[] = [];
  const failures: string[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const started = performance.now();
      try {
        const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(HEALTHZ_TIMEOUT_MS) });
        await res.text();
        if (res.status === 200) {
          latencies.push(performance.now() - started);
          startedAt.push(started);
        }
        else failures.push(`status ${res.status}`);
      } catch (err) {
        failures.push(String(err));
      }
      await sleep(20);
    }
  })();
  return {
    /** Stops polling; the latencies overall and before/after `splitAt` (the first byte of the download). */
    async stop(splitAt: number) {
      running = false;
      await done;
      const stats = (values: number[]) => {
        const sorted = [...values].sort((a, b) => a - b);
        return { count: sorted.length, p50: +percentile(sorted, 50).toFixed(1), p99: +percentile(sorted, 99).toFixed(1), max: +sorted.at(-1)!.toFixed(1) };
      };
      return {
        failures,
        ...stats(latencies),
        writing: stats(latencies.filter((_, i) => startedAt[i]! < splitAt)),
        streaming: stats(latencies.filter((_, i) => startedAt[i]! >= splitAt)),
      };
    },
  };
}

beforeAll(async () => {
  mkdirSync(dataDir);
  mkdirSync(exportTmp);
  const started = performance.now();
  const ledger = openLedger({ path: join(dataDir, 'ledger.sqlite'), chainId: 'local', clock: systemClock });
  try {
    for (let n = 1; n <= ENTRIES; n += 5000) {
      ledger.appendMany(Array.from({ length: Math.min(5000, ENTRIES - n + 1) }, (_, i) => sampleEntry(n + i)));
      await new Promise((r) => setImmediate(r)); // minutes of appends at a million: the test runner's heartbeat still gets through
    }
    // A ledger whose changes all have outcomes and whose sink has them: nothing to reconcile or replicate at start.
    ledger.setMeta('in_doubt_checked_through', String(ENTRIES));
  } finally {
    ledger.close();
  }
  // Drift checks at start would read the whole generated ledger; this test is about exports.
  writeFileSync(join(work.dir, 'config.json'), JSON.stringify({ replicate: { sinks: [] }, audit: { exportMaxBytes: 64 * 1024 ** 3 }, drift: { intervalSeconds: 0 } }));
  console.info(`generated ${ENTRIES} entries in ${Math.round(performance.now() - started)} ms`);
  sidecar = await startSidecarProcess({ dataDir, chainId: 'local', asLaunched: true, env: { TMPDIR: exportTmp, FLAGGATE_CONFIG: join(work.dir, 'config.json') } });
  auditor = await sidecar.token('ada', 'auditor');
}, LONG ? 1_800_000 : 120_000);

afterAll(async () => {
  await sidecar?.kill('SIGTERM');
  work.cleanup();
});

describe(`an export of a ${ENTRIES}-entry ledger`, () => {
  it('streams a package that verifies, with flat memory, while /healthz keeps answering', async () => {
    const before = procStatus(sidecar.pid, 'VmRSS');
    let peakSampled = before;
    const sampler = setInterval(() => (peakSampled = Math.max(peakSampled, procStatus(sidecar.pid, 'VmRSS'))), 100);
    const health = pollHealth(sidecar.controlUrl);
    const started = performance.now();
    const res = await fetch(`${sidecar.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(res.status).toBe(200);
    const firstByteAt = performance.now();
    const firstByteMs = firstByteAt - started;
    const archive = join(work.dir, 'export.tar.gz');
    await pipeline(Readable.fromWeb(res.body! as WebReadableStream), createWriteStream(archive));
    const totalMs = performance.now() - started;
    const healthz = await health.stop(firstByteAt);
    clearInterval(sampler);
    const peak = procStatus(sidecar.pid, 'VmHWM');
    console.info(JSON.stringify({
      entries: ENTRIES,
      rssBeforeMiB: Math.round(before / MiB),
      rssPeakSampledMiB: Math.round(peakSampled / MiB),
      vmHwmMiB: Math.round(peak / MiB),
      firstByteMs: Math.round(firstByteMs),
      totalMs: Math.round(totalMs),
      healthz,
    }));

    expect(healthz.failures).toEqual([]);
    expect(healthz.count).toBeGreaterThan(10);
    expect(peakSampled - before).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(await untilEmpty(exportTmp)).toEqual([]); // removed once the response finished

    // verify-export reads chain.jsonl and entries.jsonl a line at a time: at a million entries each
    // is past V8's longest string (about 512 MiB), which reading them whole could not hold.
    const pkg = join(work.dir, 'package');
    mkdirSync(pkg);
    await extract({ file: archive, cwd: pkg });
    const verifyStarted = performance.now();
    const report = await verifyExport(pkg, { verifyTokens: verifyCoverage });
    console.info(JSON.stringify({ verifyExportMs: Math.round(performance.now() - verifyStarted), chainBytes: statSync(join(pkg, 'chain.jsonl')).size, entries: report.entries }));
    expect(report).toMatchObject({ ok: true, chainId: 'local' });
    expect(report.entries).toBeGreaterThanOrEqual(ENTRIES);
  }, LONG ? 1_800_000 : 120_000);

  it.each([
    { name: 'after the first bytes (a slow client giving up)', abortAfterBody: true },
    { name: 'while the package is still being written', abortAfterBody: false },
  ])('removes its temporary folder when the download is closed $name', async ({ abortAfterBody }) => {
    const client = new AbortController();
    await fetch(`${sidecar.controlUrl}/healthz`).catch(() => undefined); // a kept-alive socket the sidecar closed meanwhile fails here, not below
    const res = fetch(`${sidecar.controlUrl}/v1/audit/export`, { headers: { authorization: `Bearer ${auditor}` }, signal: client.signal });
    if (abortAfterBody) {
      const reader = (await res).body!.getReader();
      expect((await reader.read()).done).toBe(false);
      expect(exportDirs(exportTmp)).toHaveLength(1); // the package being sent
    } else {
      for (let i = 0; i < 200 && exportDirs(exportTmp).length === 0; i += 1) await sleep(5);
      expect(exportDirs(exportTmp)).toHaveLength(1);
    }
    client.abort();
    await res.catch(() => undefined);
    expect(await untilEmpty(exportTmp)).toEqual([]);
    expect((await fetch(`${sidecar.controlUrl}/healthz`)).status).toBe(200);
  }, LONG ? 1_800_000 : 120_000);
});
