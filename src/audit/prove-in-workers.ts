import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { stitchProofs, type RangeProof, type RowRange } from './prove-range.js';
import { startModuleWorker } from './start-worker.js';
import type { ProveRange, ProveRequest } from './verify.js';

/** One worker's share: a seq range of a ledger (`source` says where: a file, a database), the chain it must belong to, the trusted hashes inside it. */
export type RangeJob<Source = { db: string }> = Source & {
  from: number;
  to: number;
  chainId: string | null;
  trusted: Array<[number, string]>;
};

/** A range to prove as a worker's job: plain data that crosses to the worker thread. */
function rangeJob<Source>(range: RowRange, source: Source): RangeJob<Source> {
  return { ...source, from: range.from, to: range.to, chainId: range.chainId, trusted: [...range.trusted] };
}

export type RangeReply = { ok: true; proof: RangeProof | undefined } | { ok: false; message: string };

export interface ParallelOptions {
  /** Worker threads (default: the available parallelism). */
  workers?: number;
  /** A range shorter than this per worker is left to the row-by-row check, which starts faster. */
  minRowsPerWorker?: number;
}

const DEFAULT_MIN_ROWS_PER_WORKER = 20_000;

/**
 * A prover for `verifyChain` over a SQLite ledger file: rows carry their own hash and previous hash,
 * so each seq range is checked on its own, in a worker thread, and the ranges are joined where each
 * links to the last row of the one before. Whatever no worker proves (the range after the first
 * break, a range a worker could not read) is left to the row-by-row check in the caller.
 */
export function proveInWorkers(db: string, lastSeq: () => number, options: ParallelOptions = {}): ProveRange {
  return proveSplit(lastSeq, options, (range) => proveInWorker('prove-worker', rangeJob(range, { db })));
}

/**
 * The same for one chain of the central PostgreSQL ledger: each range over its own connection
 * (`prove-postgres-worker`), so reading rows off the wire is split across the workers too.
 */
export function provePostgresInWorkers(url: string, chain: string, lastSeq: () => number, options: ParallelOptions = {}): ProveRange {
  return proveSplit(lastSeq, options, (range) => proveInWorker('prove-postgres-worker', rangeJob(range, { url, chain })));
}

/** Splits the request into ranges, proves each with `proveOne` (concurrently) and joins the proofs. */
export function proveSplit(lastSeq: () => number, options: ParallelOptions, proveOne: (range: RowRange) => Promise<RangeProof | undefined>): ProveRange {
  return async (request) => {
    const ranges = splitRange(request.from, Math.min(request.to, lastSeq()), options);
    if (ranges.length === 0) return undefined;
    const proofs = await Promise.all(ranges.map((r) => proveOne(rangeFor(r, request))));
    return stitchProofs(request, ranges.map((r, i) => ({ to: r.to, proof: proofs[i] })));
  };
}

/** `from`..`to` in equal consecutive parts, one per worker; none when the range is too short to pay for a worker. */
export function splitRange(from: number, to: number, options: ParallelOptions): Array<{ from: number; to: number }> {
  const count = to - from + 1;
  const min = Math.max(1, options.minRowsPerWorker ?? DEFAULT_MIN_ROWS_PER_WORKER);
  const parts = Math.min(Math.max(1, options.workers ?? availableParallelism()), Math.floor(count / min));
  if (parts < 1) return [];
  const size = Math.ceil(count / parts);
  const ranges: Array<{ from: number; to: number }> = [];
  for (let start = from; start <= to; start += size) ranges.push({ from: start, to: Math.min(to, start + size - 1) });
  return ranges;
}

function rangeFor(range: { from: number; to: number }, request: ProveRequest): RowRange {
  const trusted = new Map(request.trusted.filter((t) => t.seq >= range.from && t.seq <= range.to).map((t): [number, string] => [t.seq, t.hash]));
  return { from: range.from, to: range.to, chainId: request.chainId, trusted };
}

/** The proof of worker module `name` for `job`; a worker that fails or dies proves nothing (the caller checks its range itself). */
export function proveInWorker<Source extends object>(name: 'prove-worker' | 'prove-postgres-worker', job: RangeJob<Source>): Promise<RangeProof | undefined> {
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = startModuleWorker(name, { workerData: job, resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 } });
    } catch {
      return resolve(undefined);
    }
    worker.once('message', (reply: RangeReply) => resolve(reply.ok ? reply.proof : undefined));
    worker.once('error', () => resolve(undefined));
    worker.once('exit', () => resolve(undefined));
  });
}
