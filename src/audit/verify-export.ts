import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseCsv } from 'csv-parse/sync';
import type { JSONWebKeySet } from 'jose';
import type { Checkpoint } from './checkpoint.js';
import { canonicalJson } from './canonical.js';
import type { AuditEntry, StoredRow } from './entry.js';
import { rowToEntry } from './row-to-entry.js';
import { EXPORT_FORMAT, exportFiles, MANIFEST_TYP, matchesExport, type ExportManifest, type ExportTimestamps } from './export-format.js';
import { verifyJson } from './signed-json.js';
import { coverageFailureKind, DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS } from './verdict.js';
import { verifyLedger, type LedgerVerifyReport } from './verify-ledger.js';
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
  failure?: { kind: ExportFailureKind; seq?: number; file?: string; message: string };
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
  const fail = (kind: ExportFailureKind, message: string, extra: { seq?: number; file?: string } = {}) => ({ ...report, ok: false, failure: { kind, message, ...extra } });

  let manifest: ExportManifest;
  let chain: StoredRow[];
  let entries: AuditEntry[];
  let checkpoints: Checkpoint[];
  let packageKeys: JSONWebKeySet;
  let timestamps: ExportTimestamps;
  try {
    manifest = readJson(dir, 'manifest.json') as ExportManifest;
    if (manifest.format !== EXPORT_FORMAT) return fail('malformed', `not a ${EXPORT_FORMAT} package`, { file: 'manifest.json' });
    chain = readLines(dir, 'chain.jsonl') as StoredRow[];
    entries = readLines(dir, 'entries.jsonl') as AuditEntry[];
    checkpoints = readJson(dir, 'checkpoints.json') as Checkpoint[];
    packageKeys = readJson(dir, 'keys.jwks.json') as JSONWebKeySet;
    timestamps = readJson(dir, 'timestamps.json') as ExportTimestamps;
  } catch (err) {
    return fail('malformed', (err as Error).message);
  }
  // The manifest's scope is signed: a package narrowed after export (period, filters, range) fails.
  const keys = options.keys ?? packageKeys;
  const signed = await verifyJson(readFileSync(join(dir, 'manifest.jws'), 'utf8').trim(), MANIFEST_TYP, keys);
  if (!signed.ok) return fail(signed.problem, `manifest.jws: ${signed.message}`, { file: 'manifest.jws' });
  if (canonicalJson(signed.value) !== canonicalJson(manifest)) return fail('modified', 'manifest.json differs from the signed manifest', { file: 'manifest.json' });
  report.chainId = manifest.chainId;
  report.period = manifest.period;
  report.filters = manifest.filters;
  report.entries = entries.length;

  // chain.jsonl holds exactly the sealed range, each seq once, in order: nothing outside it can
  // later be taken as proven.
  let expectedSeq = manifest.anchorSeq + 1;
  for (const row of chain) {
    if (!isStoredRow(row)) return fail('malformed', 'chain.jsonl holds a line that is not a stored row', { file: 'chain.jsonl' });
    if (row.seq < expectedSeq) return fail(row.seq <= manifest.anchorSeq ? 'inserted' : 'reordered', `chain.jsonl: seq ${row.seq} is out of place`, { seq: row.seq, file: 'chain.jsonl' });
    if (row.seq > manifest.sealSeq) return fail('inserted', `chain.jsonl: seq ${row.seq} lies beyond the seal at ${manifest.sealSeq}`, { seq: row.seq, file: 'chain.jsonl' });
    expectedSeq = row.seq + 1;
  }

  // The chain, anchored by the checkpoint before the period and sealed by the one after.
  const anchor = checkpoints.find((c) => c.seq === manifest.anchorSeq);
  const anchorHead = manifest.anchorSeq === 0 ? undefined : anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
  if (anchorHead === null) return fail('truncated', `no checkpoint anchors the package at seq ${manifest.anchorSeq}`, { seq: manifest.anchorSeq });
  if (!checkpoints.some((c) => c.seq === manifest.sealSeq)) return fail('truncated', `no checkpoint seals the package at seq ${manifest.sealSeq}`, { seq: manifest.sealSeq });
  const bySeq = new Map(chain.map((r) => [r.seq, r]));
  const chainReport = await verifyLedger({
    read: (after, limit) => chain.filter((r) => r.seq > after).slice(0, limit),
    checkpoints,
    keys: options.keys ?? packageKeys,
    chainId: manifest.chainId,
    from: manifest.anchorSeq + 1,
    to: manifest.sealSeq,
    ...(anchorHead ? { anchor: anchorHead } : {}),
  });
  report.chain = chainReport;
  if (!chainReport.ok) return fail(chainReport.failure!.kind, chainReport.failure!.message, { seq: chainReport.failure!.seq, file: 'chain.jsonl' });
  if (chainReport.head.seq !== manifest.sealSeq) return fail('truncated', `chain.jsonl ends at seq ${chainReport.head.seq}, before the seal at ${manifest.sealSeq}`, { seq: chainReport.head.seq + 1 });

  // Every exported entry is exactly its row in the verified chain; no matching row is left out.
  const exported = new Set<number>();
  for (const e of entries) {
    if (typeof e !== 'object' || e === null || typeof e.seq !== 'number') return fail('malformed', 'entries.jsonl holds a line that is not an entry', { file: 'entries.jsonl' });
    const row = bySeq.get(e.seq);
    if (!row) return fail('inserted', `entries.jsonl holds seq ${e.seq}, which the chain does not`, { seq: e.seq, file: 'entries.jsonl' });
    const { hash, ...body } = e;
    if (hash !== row.hash || canonicalJson(body) !== row.body) return fail('modified', `the exported entry at seq ${e.seq} differs from the chain`, { seq: e.seq, file: 'entries.jsonl' });
    if (exported.has(e.seq)) return fail('inserted', `seq ${e.seq} is exported twice`, { seq: e.seq, file: 'entries.jsonl' });
    if (!matchesExport(e, manifest.period, manifest.filters)) return fail('inserted', `seq ${e.seq} is outside the package's period or filters`, { seq: e.seq, file: 'entries.jsonl' });
    exported.add(e.seq);
  }
  for (const row of chain) {
    const entry = rowToEntry(row);
    if (matchesExport(entry, manifest.period, manifest.filters) && !exported.has(row.seq)) {
      return fail('deleted', `the entry at seq ${row.seq} matches the period and filters but is not exported`, { seq: row.seq, file: 'entries.jsonl' });
    }
  }
  const csv = parseCsv(readFileSync(join(dir, 'entries.csv')), { columns: true }) as Array<{ seq: string; hash: string }>;
  const csvMismatch = csv.length !== entries.length || csv.some((r, i) => Number(r.seq) !== entries[i]!.seq || r.hash !== entries[i]!.hash);
  if (csvMismatch) return fail('modified', 'entries.csv does not list the exported entries', { file: 'entries.csv' });

  // RFC 3161: every chain row is covered by a token that verifies against the TSA anchors and was
  // made within the bound after the entry's recorded time, and before the package was created: a
  // history rewritten later and stamped again (even by a trusted TSA) fails as `restamped`.
  const skewSeconds = options.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
  const timeAt = (seq: number) => {
    const row = bySeq.get(seq);
    return row ? rowToEntry(row).timestamp_utc : undefined;
  };
  const ts = options.verifyTokens({
    tokens: timestamps.tokens.map((t) => ({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: Buffer.from(t.token, 'base64') })),
    rowHashAt: (seq) => bySeq.get(seq)?.hash,
    headSeq: manifest.sealSeq,
    trust: { trustAnchorsPem: options.tsaTrustPem ?? timestamps.trustAnchorsPem, untrustedPem: timestamps.untrustedPem },
    times: {
      entryTime: timeAt,
      maxDelaySeconds: options.maxTimestampDelaySeconds ?? DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS,
      skewSeconds,
      fromSeq: manifest.anchorSeq + 1,
      notAfter: manifest.createdAt,
    },
  });
  report.timestamps = ts;
  if (!ts.ok) {
    const first = ts.failures[0];
    return first
      ? fail(coverageFailureKind(first.code, first.coversSeq, manifest.sealSeq), `${first.code}: ${first.message}`, { seq: first.seq ?? first.coversSeq, file: 'timestamps.json' })
      : fail('uncovered', `entries from seq ${ts.uncoveredFrom} are not covered by a timestamp token`, { ...(ts.uncoveredFrom ? { seq: ts.uncoveredFrom } : {}), file: 'timestamps.json' });
  }
  // The seal is signed after the entry it seals and no later than the package it seals.
  const seal = checkpoints.find((c) => c.seq === manifest.sealSeq)!;
  const sealedEntryAt = timeAt(manifest.sealSeq);
  if (sealedEntryAt !== undefined && Date.parse(seal.time) < Date.parse(sealedEntryAt) - skewSeconds * 1000) {
    return fail('predated', `the seal checkpoint (${seal.time}) is older than the entry it seals (${sealedEntryAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }
  if (Date.parse(seal.time) > Date.parse(manifest.createdAt) + skewSeconds * 1000) {
    return fail('restamped', `the seal checkpoint (${seal.time}) is newer than the package (${manifest.createdAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }

  for (const name of exportFiles) {
    const digest = createHash('sha256').update(readFileSync(join(dir, name))).digest('hex');
    if (manifest.files[name] !== digest) return fail('modified', `${name} does not match the manifest digest`, { file: name });
  }
  return { ...report, ok: true };
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
