import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { ENTRIES_WORKER_FROM, readEntriesAside } from './export-entries-aside.js';
import type { ExportManifest } from './export-format.js';
import { DEFAULT_CLOCK_SKEW_SECONDS } from './verdict.js';
import {
  checkChain,
  checkCsv,
  checkDigests,
  checkEntries,
  checkManifestSignature,
  checkSeal,
  checkTimestamps,
  newChainIndex,
  readFileDigests,
  readPackage,
  type PackageContext,
} from './verify-export-steps.js';
import type { LedgerVerifyReport } from './verify-ledger.js';
import type { FailureKind } from './verify.js';

export type ExportFailureKind = FailureKind | 'malformed';

export interface ExportVerifyReport {
  ok: boolean;
  chainId: string | null;
  period: ExportManifest['period'] | null;
  /** The scope the package claims, as signed: an auditor checks it is the one asked for. */
  filters: ExportManifest['filters'] | null;
  entries: number;
  chain: LedgerVerifyReport | null;
  timestamps: { ok: boolean; tokensChecked: number; coveredThrough: number; failures: Array<{ code: string; message: string }> } | null;
  failure?: ExportFailure;
}

export interface ExportFailure {
  kind: ExportFailureKind;
  seq?: number | undefined;
  file?: string;
  message: string;
}

/** Checks RFC 3161 tokens over rows; given by the caller so this module stays free of the timestamp stage. */
export type VerifyTokens = (input: {
  tokens: Array<{ coversSeq: number; coversHash: string; token: Buffer }>;
  rowHashAt: (seq: number) => string | undefined;
  headSeq: number;
  trust: { trustAnchorsPem: string; untrustedPem: string };
  times?: {
    entryTime(seq: number): string | undefined;
    maxDelaySeconds: number;
    skewSeconds: number;
    fromSeq?: number;
    notAfter?: string;
  };
}) => { ok: boolean; tokensChecked: number; coveredThrough: number; uncoveredFrom?: number; failures: Array<{ code: string; message: string; coversSeq: number; seq?: number }> };

export interface VerifyExportOptions {
  /** Checkpoint public keys the auditor pinned (else the package's own copy). */
  keys?: JSONWebKeySet;
  /** TSA trust anchors the auditor pinned (else the package's own copy). */
  tsaTrustPem?: string;
  verifyTokens: VerifyTokens;
  /** How long after an entry its first token may be made (default one hour). */
  maxTimestampDelaySeconds?: number;
  clockSkewSeconds?: number;
  /** From this many entries the entries pass runs in a worker thread beside the chain check (default 10,000). */
  entriesWorkerFrom?: number;
}

/**
 * Verifies an export package offline, trusting only the package and what the auditor pins
 * (`keys`: checkpoint public keys; `tsaTrustPem`: TSA anchors). Checks, in order: the checkpoints'
 * signatures, the chain from the anchoring checkpoint to the sealing one, that every exported entry
 * is exactly its chain row, that no entry matching the filters is missing, the CSV, the RFC 3161
 * tokens (each entry first stamped within the bound of the time it records, no token and no seal
 * newer than the package), and last the manifest digests.
 */
export async function verifyExport(dir: string, options: VerifyExportOptions): Promise<ExportVerifyReport> {
  try {
    return await verifyPackage(dir, options);
  } catch (err) {
    // A hostile package is a failed verification, never a crash.
    return { ok: false, chainId: null, period: null, filters: null, entries: 0, chain: null, timestamps: null, failure: { kind: 'malformed', message: (err as Error).message } };
  }
}

async function verifyPackage(dir: string, options: VerifyExportOptions): Promise<ExportVerifyReport> {
  const report: ExportVerifyReport = { ok: false, chainId: null, period: null, filters: null, entries: 0, chain: null, timestamps: null };
  const fail = (failure: ExportFailure): ExportVerifyReport => ({ ...report, ok: false, failure });

  const pkg = readPackage(dir);
  if ('kind' in pkg) return fail(pkg);
  // The manifest's scope is signed: a package narrowed after export (period, filters, range) fails.
  const keys = options.keys ?? pkg.packageKeys;
  const unsigned = await checkManifestSignature(dir, pkg.manifest, keys);
  if (unsigned) return fail(unsigned);
  report.chainId = pkg.manifest.chainId;
  report.period = pkg.manifest.period;
  report.filters = pkg.manifest.filters;
  report.entries = pkg.entryCount;

  const ctx: PackageContext = { ...pkg, dir, keys, rows: newChainIndex(pkg.manifest), csvListsEntries: false, skewSeconds: options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS };
  // The entries pass needs nothing from the chain: a large package's runs beside the chain check.
  const aside = pkg.entryCount >= (options.entriesWorkerFrom ?? ENTRIES_WORKER_FROM);
  // The pass on this thread takes its files' digests as it reads them; beside a worker (the slower
  // of the two), this thread reads them while it waits.
  const entries = readEntriesAside(
    { entriesPath: pkg.entriesPath, csvPath: join(dir, 'entries.csv'), count: pkg.entryCount, period: pkg.manifest.period, filters: pkg.manifest.filters, digestFiles: !aside },
    aside,
  );
  const entriesRead = async () => {
    if (aside) readFileDigests(ctx, ['entries.jsonl', 'entries.csv']);
    const read = await entries.read();
    for (const [name, hex] of Object.entries(read.digests)) ctx.digests.set(name, hex);
    return read;
  };
  try {
    const failure =
      (await checkChain(ctx, report)) ??
      checkEntries(ctx, await entriesRead()) ??
      checkCsv(ctx) ??
      checkTimestamps(ctx, options, report) ??
      checkSeal(ctx) ??
      checkDigests(ctx);
    return failure ? fail(failure) : { ...report, ok: true };
  } finally {
    entries.cancel();
  }
}
