import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { JSONWebKeySet } from 'jose';
import type { Checkpoint } from './checkpoint.js';
import { canonicalJson } from './canonical.js';
import type { AuditEntry, StoredRow } from './entry.js';
import { evidenceFiles, EXPORT_FORMAT, exportFiles, MANIFEST_TYP, matchesExport, type ExportManifest, type ExportTimestamps } from './export-format.js';
import { rowToEntry } from './row-to-entry.js';
import { verifyJson } from './signed-json.js';
import { coverageFailureKind, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS } from './verdict.js';
import type { ExportFailure, ExportVerifyReport, VerifyExportOptions } from './verify-export.js';
import { verifyLedger } from './verify-ledger.js';

/** The files of an export package, parsed but not yet trusted. */
export interface ExportPackage {
  manifest: ExportManifest;
  chain: StoredRow[];
  entries: AuditEntry[];
  checkpoints: Checkpoint[];
  packageKeys: JSONWebKeySet;
  timestamps: ExportTimestamps;
}

/** A package whose chain rows are well formed and in range, with what the later steps share. */
export interface PackageContext extends ExportPackage {
  dir: string;
  keys: JSONWebKeySet;
  bySeq: Map<number, StoredRow>;
  skewSeconds: number;
}

const failure = (kind: ExportFailure['kind'], message: string, extra: { seq?: number | undefined; file?: string } = {}): ExportFailure => ({ kind, message, ...extra });

/** Reads every file of the package; a missing or unparsable one is `malformed`. */
export function readPackage(dir: string): ExportPackage | ExportFailure {
  try {
    const manifest = readJson(dir, 'manifest.json') as ExportManifest;
    if (manifest.format !== EXPORT_FORMAT) return failure('malformed', `not a ${EXPORT_FORMAT} package`, { file: 'manifest.json' });
    return {
      manifest,
      chain: readLines(dir, 'chain.jsonl') as StoredRow[],
      entries: readLines(dir, 'entries.jsonl') as AuditEntry[],
      checkpoints: readJson(dir, 'checkpoints.json') as Checkpoint[],
      packageKeys: readJson(dir, 'keys.jwks.json') as JSONWebKeySet,
      timestamps: readJson(dir, 'timestamps.json') as ExportTimestamps,
    };
  } catch (err) {
    return failure('malformed', (err as Error).message);
  }
}

/** manifest.jws verifies with `keys` and signs exactly manifest.json. */
export async function checkManifestSignature(dir: string, manifest: ExportManifest, keys: JSONWebKeySet): Promise<ExportFailure | undefined> {
  const signed = await verifyJson(readFileSync(join(dir, 'manifest.jws'), 'utf8').trim(), MANIFEST_TYP, keys);
  if (!signed.ok) return failure(signed.problem, `manifest.jws: ${signed.message}`, { file: 'manifest.jws' });
  if (canonicalJson(signed.value) !== canonicalJson(manifest)) return failure('modified', 'manifest.json differs from the signed manifest', { file: 'manifest.json' });
  return undefined;
}

/**
 * chain.jsonl holds exactly the sealed range, each seq once, in order: nothing outside it can
 * later be taken as proven.
 */
export function checkChainRange({ chain, manifest }: ExportPackage): ExportFailure | undefined {
  let expectedSeq = manifest.anchorSeq + 1;
  for (const row of chain) {
    if (!isStoredRow(row)) return failure('malformed', 'chain.jsonl holds a line that is not a stored row', { file: 'chain.jsonl' });
    if (row.seq < expectedSeq) return failure(row.seq <= manifest.anchorSeq ? 'inserted' : 'reordered', `chain.jsonl: seq ${row.seq} is out of place`, { seq: row.seq, file: 'chain.jsonl' });
    if (row.seq > manifest.sealSeq) return failure('inserted', `chain.jsonl: seq ${row.seq} lies beyond the seal at ${manifest.sealSeq}`, { seq: row.seq, file: 'chain.jsonl' });
    expectedSeq = row.seq + 1;
  }
  return undefined;
}

/** The chain, anchored by the checkpoint before the period and sealed by the one after. */
export async function checkChain(ctx: PackageContext, report: ExportVerifyReport): Promise<ExportFailure | undefined> {
  const { manifest, checkpoints, chain } = ctx;
  const anchor = checkpoints.find((c) => c.seq === manifest.anchorSeq);
  const anchorHead = manifest.anchorSeq === 0 ? undefined : anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
  if (anchorHead === null) return failure('truncated', `no checkpoint anchors the package at seq ${manifest.anchorSeq}`, { seq: manifest.anchorSeq });
  if (!checkpoints.some((c) => c.seq === manifest.sealSeq)) return failure('truncated', `no checkpoint seals the package at seq ${manifest.sealSeq}`, { seq: manifest.sealSeq });
  const chainReport = await verifyLedger({
    read: rowsAfterIn(chain),
    checkpoints,
    keys: ctx.keys,
    chainId: manifest.chainId,
    from: manifest.anchorSeq + 1,
    to: manifest.sealSeq,
    ...(anchorHead ? { anchor: anchorHead } : {}),
  });
  report.chain = chainReport;
  if (!chainReport.ok) return failure(chainReport.failure!.kind, chainReport.failure!.message, { seq: chainReport.failure!.seq, file: 'chain.jsonl' });
  if (chainReport.head.seq !== manifest.sealSeq) return failure('truncated', `chain.jsonl ends at seq ${chainReport.head.seq}, before the seal at ${manifest.sealSeq}`, { seq: chainReport.head.seq + 1 });
  return undefined;
}

/**
 * Pages of `chain` (strictly increasing seqs, checked by checkChainRange) after a seq, found by
 * binary search: filtering the whole chain for every page made a large package quadratic.
 */
export function rowsAfterIn(chain: StoredRow[]): (after: number, limit: number) => StoredRow[] {
  return (after, limit) => {
    let lo = 0;
    let hi = chain.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (chain[mid]!.seq > after) hi = mid;
      else lo = mid + 1;
    }
    return chain.slice(lo, lo + limit);
  };
}

/** Every exported entry is exactly its row in the verified chain; no matching row is left out. */
export function checkEntries({ entries, chain, bySeq, manifest }: PackageContext): ExportFailure | undefined {
  const exported = new Set<number>();
  for (const e of entries) {
    if (typeof e !== 'object' || e === null || typeof e.seq !== 'number') return failure('malformed', 'entries.jsonl holds a line that is not an entry', { file: 'entries.jsonl' });
    const row = bySeq.get(e.seq);
    if (!row) return failure('inserted', `entries.jsonl holds seq ${e.seq}, which the chain does not`, { seq: e.seq, file: 'entries.jsonl' });
    const { hash, ...body } = e;
    // The row's body is proven canonical by now, so plain JSON text equal to it is the entry's canonical form too.
    if (hash !== row.hash || (JSON.stringify(body) !== row.body && canonicalJson(body) !== row.body)) return failure('modified', `the exported entry at seq ${e.seq} differs from the chain`, { seq: e.seq, file: 'entries.jsonl' });
    if (exported.has(e.seq)) return failure('inserted', `seq ${e.seq} is exported twice`, { seq: e.seq, file: 'entries.jsonl' });
    if (!matchesExport(e, manifest.period, manifest.filters)) return failure('inserted', `seq ${e.seq} is outside the package's period or filters`, { seq: e.seq, file: 'entries.jsonl' });
    exported.add(e.seq);
  }
  for (const row of chain) {
    const entry = rowToEntry(row);
    if (matchesExport(entry, manifest.period, manifest.filters) && !exported.has(row.seq)) {
      return failure('deleted', `the entry at seq ${row.seq} matches the period and filters but is not exported`, { seq: row.seq, file: 'entries.jsonl' });
    }
  }
  return undefined;
}

/** entries.csv lists the exported entries, in order. */
export function checkCsv({ dir, entries }: PackageContext): ExportFailure | undefined {
  const csv = parseCsv(readFileSync(join(dir, 'entries.csv')), { columns: true }) as Array<{ seq: string; hash: string }>;
  const csvMismatch = csv.length !== entries.length || csv.some((r, i) => Number(r.seq) !== entries[i]!.seq || r.hash !== entries[i]!.hash);
  return csvMismatch ? failure('modified', 'entries.csv does not list the exported entries', { file: 'entries.csv' }) : undefined;
}

function entryTimeAt(ctx: PackageContext, seq: number): string | undefined {
  const row = ctx.bySeq.get(seq);
  return row ? rowToEntry(row).timestamp_utc : undefined;
}

/**
 * RFC 3161: every chain row is covered by a token that verifies against the TSA anchors and was
 * made within the bound after the entry's recorded time, and before the package was created: a
 * history rewritten later and stamped again (even by a trusted TSA) fails as `restamped`.
 */
export function checkTimestamps(ctx: PackageContext, options: VerifyExportOptions, report: ExportVerifyReport): ExportFailure | undefined {
  const { manifest, timestamps } = ctx;
  const ts = options.verifyTokens({
    tokens: timestamps.tokens.map((t) => ({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: Buffer.from(t.token, 'base64') })),
    rowHashAt: (seq) => ctx.bySeq.get(seq)?.hash,
    headSeq: manifest.sealSeq,
    trust: { trustAnchorsPem: options.tsaTrustPem ?? timestamps.trustAnchorsPem, untrustedPem: timestamps.untrustedPem },
    times: {
      entryTime: (seq) => entryTimeAt(ctx, seq),
      maxDelaySeconds: options.maxTimestampDelaySeconds ?? DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS,
      skewSeconds: ctx.skewSeconds,
      fromSeq: manifest.anchorSeq + 1,
      notAfter: manifest.createdAt,
    },
  });
  report.timestamps = ts;
  if (ts.ok) return undefined;
  const first = ts.failures[0];
  return first
    ? failure(coverageFailureKind(first.code, first.coversSeq, manifest.sealSeq), `${first.code}: ${first.message}`, { seq: first.seq ?? first.coversSeq, file: 'timestamps.json' })
    : failure('uncovered', `entries from seq ${ts.uncoveredFrom} are not covered by a timestamp token`, { ...(ts.uncoveredFrom ? { seq: ts.uncoveredFrom } : {}), file: 'timestamps.json' });
}

/** The seal is signed after the entry it seals and no later than the package it seals. */
export function checkSeal(ctx: PackageContext): ExportFailure | undefined {
  const { manifest, skewSeconds } = ctx;
  const seal = ctx.checkpoints.find((c) => c.seq === manifest.sealSeq)!;
  const sealedEntryAt = entryTimeAt(ctx, manifest.sealSeq);
  if (sealedEntryAt !== undefined && Date.parse(seal.time) < Date.parse(sealedEntryAt) - skewSeconds * 1000) {
    return failure('predated', `the seal checkpoint (${seal.time}) is older than the entry it seals (${sealedEntryAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }
  if (Date.parse(seal.time) > Date.parse(manifest.createdAt) + skewSeconds * 1000) {
    return failure('restamped', `the seal checkpoint (${seal.time}) is newer than the package (${manifest.createdAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }
  return undefined;
}

/** A policy bundle the package carries: named by its own digest. */
const bundleFile = /^policy-bundles\/([0-9a-f]{64})\.tar\.gz$/;

/** Last, every file matches the manifest's digest; a policy bundle's also matches its name, and the manifest lists nothing else. */
export function checkDigests({ dir, manifest }: PackageContext): ExportFailure | undefined {
  const extra = Object.keys(manifest.files).filter((name) => !(exportFiles as readonly string[]).includes(name));
  for (const name of [...exportFiles, ...extra]) {
    const named = bundleFile.exec(name);
    const known = (exportFiles as readonly string[]).includes(name) || (evidenceFiles as readonly string[]).includes(name);
    if (!known && (!named || named[1] !== manifest.files[name])) {
      return failure('modified', `the manifest lists ${name}, which is not a package file`, { file: name });
    }
    if (!existsSync(join(dir, name))) return failure('modified', `${name} is missing`, { file: name });
    const digest = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
    if (manifest.files[name] !== digest) return failure('modified', `${name} does not match the manifest digest`, { file: name });
  }
  return undefined;
}

function readJson(dir: string, name: string): unknown {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${name} is missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    throw new Error(`${name} is not JSON`);
  }
}

function readLines(dir: string, name: string): unknown[] {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${name} is missing`);
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((line, i) => {
      try {
        return JSON.parse(line) as unknown;
      } catch {
        throw new Error(`${name} line ${i + 1} is not JSON`);
      }
    });
}

function isStoredRow(row: unknown): row is StoredRow {
  const r = row as Partial<StoredRow> | null;
  return (
    typeof r === 'object' && r !== null && Number.isSafeInteger(r.seq) &&
    typeof r.chain_id === 'string' && typeof r.prev_hash === 'string' && typeof r.hash === 'string' && typeof r.body === 'string'
  );
}
