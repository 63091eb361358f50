import { createHash, type Hash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { FlaggateError } from '../errors.js';
import type { Checkpoint } from './checkpoint.js';
import type { AuditEntry, StoredRow } from './entry.js';
import { rowToEntry } from './row-to-entry.js';
import { entryLine, rowLine } from './export-lines.js';
import { csvHeader, csvRecords, EXPORT_FORMAT, MANIFEST_TYP, matchesExport, type ExportFilters, type ExportManifest } from './export-format.js';
import type { Keyring } from './keyring.js';
import { signJson } from './signed-json.js';

/** What an export reads: the ledger file, or any store with the same rows. Paged, so memory stays flat. */
export interface ExportSource {
  chainId: string;
  /** Raw rows with seq > afterSeq, oldest first. */
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  /** The first and last seq whose entry lies in the period (0 and 0 when none). */
  seqRange(period: ExportManifest['period']): { first: number; last: number };
  checkpoints(): Checkpoint[];
  /** Stored RFC 3161 tokens with coversSeq >= fromSeq, in coversSeq order. */
  tokensFrom(fromSeq: number, limit: number): Array<{ coversSeq: number; coversHash: string; token: Buffer }>;
  keys: JSONWebKeySet;
  trust: { trustAnchorsPem: string; untrustedPem: string };
}

/** The package's data files as written; the manifest over them is signed by `sealExport`. */
export type ExportBody = Pick<ExportManifest, 'period' | 'filters' | 'anchorSeq' | 'sealSeq' | 'entries' | 'files'>;

const page = 2000;

/**
 * Writes an export package's data files for a period (ISO times, `to` exclusive) and filters to
 * `dir`, reading the ledger a page at a time and writing each file as it goes: memory does not grow
 * with the ledger. The newest checkpoint must seal the period's end (callers sign one over the head
 * first). Throws AUDIT_EXPORT_TOO_LARGE once the files pass `maxBytes`; the caller removes `dir`.
 */
export function writeExportFiles(source: ExportSource, dir: string, options: { from?: string; to?: string; filters?: ExportFilters; maxBytes: number }): ExportBody {
  const period = { from: options.from ?? null, to: options.to ?? null };
  const filters = options.filters ?? {};
  const checkpoints = source.checkpoints();

  const { first, last } = source.seqRange(period);
  const anchor = [...checkpoints].reverse().find((c) => c.seq < (first || Number.MAX_SAFE_INTEGER));
  const seal = sealFor(source, checkpoints, last);
  if (!seal) throw new TypeError('writeExport: no checkpoint seals the period; sign one over the head first');
  const anchorSeq = first === 0 ? seal.seq : (anchor?.seq ?? 0);

  mkdirSync(dir, { recursive: true });
  const budget = { left: options.maxBytes };
  const open = (name: string) => openPackageFile(dir, name, budget);
  const chain = open('chain.jsonl');
  const entries = open('entries.jsonl');
  const csv = open('entries.csv');
  csv.write(csvHeader());
  const revisions = new Map<string, { revision: string | null; sha256: string | null }>();
  let selected = 0;
  try {
    for (let after = anchorSeq; after < seal.seq; ) {
      const rows = source.rowsAfter(after, page).filter((r) => r.seq <= seal.seq);
      if (rows.length === 0) break;
      const picked: AuditEntry[] = [];
      for (const row of rows) {
        chain.write(rowLine(row));
        const entry = rowToEntry(row);
        if (!matchesExport(entry, period, filters)) continue;
        picked.push(entry);
        entries.write(entryLine(row));
        revisions.set(`${entry.decision.policy_revision}/${entry.decision.policy_sha256}`, { revision: entry.decision.policy_revision, sha256: entry.decision.policy_sha256 });
      }
      if (picked.length > 0) csv.write(csvRecords(picked));
      selected += picked.length;
      after = rows[rows.length - 1]!.seq;
    }
  } finally {
    for (const file of [chain, entries, csv]) file.close();
  }

  const files: Record<string, string> = { 'chain.jsonl': chain.digest(), 'entries.jsonl': entries.digest(), 'entries.csv': csv.digest() };
  const put = (name: string, text: string) => {
    const file = open(name);
    try {
      file.write(text);
    } finally {
      file.close();
    }
    files[name] = file.digest();
  };
  put('checkpoints.json', JSON.stringify(checkpoints.filter((c) => c.seq >= anchorSeq && c.seq <= seal.seq), null, 2) + '\n');
  put('keys.jwks.json', JSON.stringify(source.keys, null, 2) + '\n');
  put('policy-revisions.json', JSON.stringify([...revisions.values()], null, 2) + '\n');
  files['timestamps.json'] = writeTimestamps(source, open('timestamps.json'), anchorSeq + 1, seal.seq);
  return { period, filters, anchorSeq, sealSeq: seal.seq, entries: selected, files };
}

/**
 * The checkpoint that ends the package: the first at or after `last` whose seq the first token
 * covering it covers exactly. A token that covers the seal from further on vouches for a row past
 * the seal, which the package does not hold, so the seal moves on to a checkpoint at that row (or
 * past it, and again) while there is one; the head's checkpoint, signed by the callers, ends it.
 */
function sealFor(source: ExportSource, checkpoints: readonly Checkpoint[], last: number): Checkpoint | undefined {
  let seal = checkpoints.find((c) => c.seq >= last);
  for (;;) {
    const covering = seal && source.tokensFrom(seal.seq, 1)[0];
    if (!seal || !covering || covering.coversSeq === seal.seq) return seal;
    const further = checkpoints.find((c) => c.seq >= covering.coversSeq);
    if (!further) return seal; // no checkpoint at the token's row yet: verification says what is uncovered
    seal = further;
  }
}

/**
 * Tokens from the first entry of chain.jsonl on, up to and including the first one that covers
 * the seal (through the chain it vouches for everything before it); later tokens are left out.
 */
function writeTimestamps(source: ExportSource, file: PackageFile, coverFrom: number, sealSeq: number): string {
  try {
    file.write(`{"trustAnchorsPem":${JSON.stringify(source.trust.trustAnchorsPem)},"untrustedPem":${JSON.stringify(source.trust.untrustedPem)},"tokens":[`);
    let count = 0;
    for (let from = coverFrom; ; ) {
      const tokens = source.tokensFrom(from, page);
      for (const t of tokens) {
        file.write(`${count++ === 0 ? '' : ','}\n${JSON.stringify({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: t.token.toString('base64') })}`);
        if (t.coversSeq >= sealSeq) return finish();
      }
      if (tokens.length < page) return finish();
      from = tokens[tokens.length - 1]!.coversSeq + 1;
    }
  } finally {
    file.close();
  }
  function finish(): string {
    file.write('\n]}\n');
    file.close();
    return file.digest();
  }
}

/**
 * Signs the package: `manifest.json` over the data files' digests, and `manifest.jws`, its copy
 * signed with the checkpoint key, so the package cannot be narrowed (period, filters) or re-scoped.
 */
export async function sealExport(dir: string, body: ExportBody, o: { chainId: string; createdAt: string; keyring: Keyring }): Promise<ExportManifest> {
  const manifest: ExportManifest = { format: EXPORT_FORMAT, chainId: o.chainId, createdAt: o.createdAt, ...body };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, o.keyring)).jws + '\n');
  return manifest;
}

interface PackageFile {
  write(text: string): void;
  close(): void;
  digest(): string;
}

const bufferBytes = 1 << 20;

/** A package file written through a 1 MiB buffer, hashed as it goes, counted against the budget. */
function openPackageFile(dir: string, name: string, budget: { left: number }): PackageFile {
  const fd = openSync(join(dir, name), 'w', 0o600);
  const hash: Hash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(bufferBytes);
  let used = 0;
  let closed = false;
  let hex: string | undefined;
  const out = (bytes: Buffer) => {
    budget.left -= bytes.length;
    if (budget.left < 0) {
      throw new FlaggateError('AUDIT_EXPORT_TOO_LARGE', 'the export package would exceed audit.exportMaxBytes; narrow the period or the filters', { details: { file: name } });
    }
    hash.update(bytes);
    for (let written = 0; written < bytes.length; ) written += writeSync(fd, bytes, written);
  };
  const flush = () => {
    if (used === 0) return;
    const bytes = buffer.subarray(0, used);
    used = 0;
    out(bytes);
  };
  return {
    write(text) {
      const length = Buffer.byteLength(text, 'utf8');
      if (used + length > bufferBytes) flush();
      if (length > bufferBytes) return out(Buffer.from(text, 'utf8'));
      used += buffer.write(text, used, 'utf8');
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        flush();
      } finally {
        closeSync(fd);
      }
    },
    digest() {
      if (!closed) throw new TypeError(`${name} is still open`);
      return (hex ??= hash.digest('hex'));
    },
  };
}
