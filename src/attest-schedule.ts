import { existsSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { writeAttestation, type AttestationReport } from './attest/index.js';
import type { WorkerRequest } from './attest-worker.js';
import type { Keyring } from './audit/index.js';
import { isoUtc, type Clock } from './clock.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export interface AttestScheduleDeps {
  intervalSeconds: number;
  /** The ledger file; reports go to `<dataDir>/attestations/<from>_<to>/`. */
  db: string;
  dataDir: string;
  keyring: Keyring;
  /** The bundle the sidecar runs (its critical flags), when its file is at hand. */
  bundle: () => string | undefined;
  /** Covers and seals the head, so the period's last entries are provable when the report is made. */
  sealHead: () => Promise<void>;
  verify: { maxDelaySeconds: number; skewSeconds: number };
  clock: Clock;
  logger: Logger;
  metrics: Pick<Metrics, 'attestations'>;
}

export interface AttestSchedule {
  /** One report now, for the interval just ended (what each tick does); resolves with its folder. */
  runNow(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Writes the attestation report of the last interval on a timer. The ledger is read, verified and
 * checked in a worker thread; only sealing the head and signing happen here. A failed run is
 * logged and counted and never reaches a request; a run still going when the next is due skips it.
 */
export function scheduleAttestations(deps: AttestScheduleDeps): AttestSchedule {
  let running: Promise<string> | undefined;
  let worker: Worker | undefined;
  let closed = false;
  const runNow = async (): Promise<string> => {
    const to = deps.clock.now();
    const period = { from: isoUtc(to - deps.intervalSeconds * 1000), to: isoUtc(to) };
    await deps.sealHead();
    const bundle = deps.bundle();
    const request: WorkerRequest = { db: deps.db, ...period, maxDelaySeconds: deps.verify.maxDelaySeconds, skewSeconds: deps.verify.skewSeconds, ...(bundle ? { bundle } : {}) };
    worker = startAttestWorker(request);
    const report = await reportOf(worker);
    const dir = join(deps.dataDir, 'attestations', `${period.from}_${period.to}`);
    await writeAttestation(dir, report, deps.keyring);
    return dir;
  };
  const tick = () => {
    if (running || closed) return;
    running = runNow();
    running.then(
      (dir) => (deps.metrics.attestations.inc({ result: 'written' }), deps.logger.info('attestation written', { dir })),
      (err: unknown) => {
        if (closed) return;
        deps.metrics.attestations.inc({ result: 'failed' });
        deps.logger.error('scheduled attestation failed', { error: err instanceof Error ? err.message : String(err) });
      },
    ).finally(() => {
      running = undefined;
      worker = undefined;
    });
  };
  const timer = setInterval(tick, deps.intervalSeconds * 1000);
  timer.unref();
  return {
    runNow,
    async close() {
      closed = true;
      clearInterval(timer);
      await worker?.terminate();
      await running?.catch(() => undefined);
    },
  };
}

/** The unsigned report, made in a worker thread; aborting `signal` stops the worker. */
export async function readAttestationInWorker(request: WorkerRequest, signal?: AbortSignal): Promise<AttestationReport> {
  signal?.throwIfAborted();
  const worker = startAttestWorker(request);
  const stop = () => void worker.terminate();
  signal?.addEventListener('abort', stop, { once: true });
  try {
    return await reportOf(worker);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}

function reportOf(worker: Worker): Promise<AttestationReport> {
  return new Promise((resolve, reject) => {
    worker.once('message', (m: { report?: AttestationReport; error?: string }) => (m.report ? resolve(m.report) : reject(new Error(m.error ?? 'no report'))));
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the attestation worker stopped (exit ${code})`)));
  });
}

/** The worker module beside this one; from the TypeScript sources (tests, tsx) it boots through tsx. */
function startAttestWorker(request: WorkerRequest): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./attest-worker${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(entry, { workerData: request });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData: request });
}

/** The running bundle's archived file, when the archive holds it. */
export function archivedBundlePath(archive: string, sha256: string): string | undefined {
  const path = join(archive, `${sha256}.tar.gz`);
  return existsSync(path) ? path : undefined;
}
