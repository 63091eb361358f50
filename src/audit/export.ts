import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import type { Checkpoint } from './checkpoint.js';
import { canonicalJson } from './canonical.js';
import type { AuditEntry, AuditEntryBody, StoredRow } from './entry.js';
import { entriesCsv, EXPORT_FORMAT, MANIFEST_TYP, matchesExport, type ExportFilters, type ExportManifest, type ExportTimestamps } from './export-format.js';
import type { Keyring } from './keyring.js';
import { signJson } from './signed-json.js';

/** What an export reads; the ledger, or any store with the same rows. */
export interface ExportSource {
  chainId: string;
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  checkpoints(): Checkpoint[];
  keys: JSONWebKeySet;
  timestamps: ExportTimestamps;
  /** Signs the manifest (the package's scope: period, filters, range, digests) with the checkpoint key. */
  keyring: Keyring;
}

/**
 * Writes an export package for a period (ISO times, `to` exclusive) and filters to `dir`. The
 * newest checkpoint must seal the period's end: callers sign one over the head first if needed.
 */
export async function writeExport(source: ExportSource, dir: string, options: { from?: string; to?: string; filters?: ExportFilters; createdAt: string }): Promise<ExportManifest> {
  const period = { from: options.from ?? null, to: options.to ?? null };
  const filters = options.filters ?? {};
  const checkpoints = source.checkpoints();

  // One pass: find the period's seq range and the filtered entries.
  const selected: AuditEntry[] = [];
  let first = 0;
  let last = 0;
  for (let after = 0; ; ) {
    const rows = source.rowsAfter(after, 2000);
    if (rows.length === 0) break;
    for (const row of rows) {
      const entry = { ...(JSON.parse(row.body) as AuditEntryBody), hash: row.hash };
      if (matchesExport(entry, period, {})) {
        first ||= row.seq;
        last = row.seq;
        if (matchesExport(entry, period, filters)) selected.push(entry);
      }
    }
    after = rows[rows.length - 1]!.seq;
  }
  const anchor = [...checkpoints].reverse().find((c) => c.seq < (first || Number.MAX_SAFE_INTEGER));
  const seal = checkpoints.find((c) => c.seq >= last);
  if (!seal) throw new TypeError('writeExport: no checkpoint seals the period; sign one over the head first');
  const anchorSeq = first === 0 ? seal.seq : (anchor?.seq ?? 0);

  const chain: StoredRow[] = [];
  for (let after = anchorSeq; after < seal.seq; ) {
    const rows = source.rowsAfter(after, 2000).filter((r) => r.seq <= seal.seq);
    if (rows.length === 0) break;
    chain.push(...rows);
    after = rows[rows.length - 1]!.seq;
  }

  mkdirSync(dir, { recursive: true });
  const files: Record<string, string> = {};
  const put = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    files[name] = createHash('sha256').update(text).digest('hex');
  };
  put('chain.jsonl', chain.map((r) => canonicalJson(r) + '\n').join(''));
  put('entries.jsonl', selected.map((e) => canonicalJson(e) + '\n').join(''));
  put('entries.csv', entriesCsv(selected));
  put('checkpoints.json', JSON.stringify(checkpoints.filter((c) => c.seq >= anchorSeq && c.seq <= seal.seq), null, 2) + '\n');
  put('keys.jwks.json', JSON.stringify(source.keys, null, 2) + '\n');
  const revisions = new Map<string, { revision: string | null; sha256: string | null }>();
  for (const e of selected) revisions.set(`${e.decision.policy_revision}/${e.decision.policy_sha256}`, { revision: e.decision.policy_revision, sha256: e.decision.policy_sha256 });
  put('policy-revisions.json', JSON.stringify([...revisions.values()], null, 2) + '\n');
  const coverFrom = anchorSeq + 1;
  const tokens = source.timestamps.tokens.filter((t) => t.coversSeq >= coverFrom);
  const sealing = tokens.findIndex((t) => t.coversSeq >= seal.seq);
  put('timestamps.json', JSON.stringify({ ...source.timestamps, tokens: sealing === -1 ? tokens : tokens.slice(0, sealing + 1) }, null, 2) + '\n');

  const manifest: ExportManifest = {
    format: EXPORT_FORMAT,
    chainId: source.chainId,
    createdAt: options.createdAt,
    period,
    filters,
    anchorSeq,
    sealSeq: seal.seq,
    entries: selected.length,
    files,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  // Signed, so the package cannot be narrowed (period, filters) or re-scoped without the key.
  writeFileSync(join(dir, 'manifest.jws'), (await signJson(manifest, MANIFEST_TYP, source.keyring)).jws + '\n');
  return manifest;
}
