import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jsonLines, rowToEntry, type AuditEntryBody } from '../audit/index.js';
import { createPolicyEngine, listArchivedBundles, type PolicyEngine } from '../policy/index.js';
import { openPostgresReader } from '../replicate/index.js';

/** The bundles replay may use, by the digest of their bytes, and the digests whose file holds other bytes. */
export interface ReplayBundles {
  engines: Map<string, PolicyEngine>;
  /** Files named for a digest their bytes do not have: a swapped or damaged archive copy. */
  altered: Set<string>;
}

/**
 * Loads each bundle file, keyed by the SHA-256 of its bytes (never by its name): a decision is
 * replayed only with the very bytes its entry names. A file whose bytes do not match the digest
 * its name claims is reported as altered; one that does not load is left out.
 */
export async function loadReplayBundles(files: Iterable<[claimed: string | undefined, source: string | Buffer]>): Promise<ReplayBundles> {
  const out: ReplayBundles = { engines: new Map(), altered: new Set() };
  for (const [claimed, source] of files) {
    const bytes = typeof source === 'string' ? readFileSync(source) : source;
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    if (claimed !== undefined && claimed !== sha256) {
      out.altered.add(claimed);
      continue;
    }
    try {
      out.engines.set(sha256, await createPolicyEngine({ bundleBytes: bytes }));
    } catch {
      // Not a loadable bundle: its decisions are reported as having no bundle.
    }
  }
  return out;
}

/** The bundle archive of a data dir (`policy-bundles/<sha256>.tar.gz`). */
export function archiveBundleFiles(dir: string): Array<[string, string]> {
  return [...listArchivedBundles(dir)];
}

/**
 * An export package, for replay offline: the period's entries (entries.jsonl) and the bundles its
 * manifest lists (`policy-bundles/<sha256>.tar.gz`). Whether the package itself is intact is
 * `flaggate verify-export`'s question; replay checks each bundle's bytes against its digest.
 */
export function readExportForReplay(dir: string): { entries: Generator<AuditEntryBody>; bundleFiles: Array<[string, string]> } {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files?: Record<string, string> };
  const bundleFiles = Object.keys(manifest.files ?? {})
    .map((name) => /^policy-bundles\/([0-9a-f]{64})\.tar\.gz$/.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(dir, m[0])))
    .map((m): [string, string] => [m[1]!, join(dir, m[0])]);
  return { entries: entriesOf(join(dir, 'entries.jsonl')), bundleFiles };
}

/** A line at a time: a large package's entries.jsonl is longer than a string can be. */
function entriesOf(path: string): Generator<AuditEntryBody> {
  return jsonLines(path, 'entries.jsonl') as Generator<AuditEntryBody>;
}

/**
 * The central PostgreSQL ledger, for a replay when the data dir is lost: the bundles of its
 * archive (`flaggate.policy_bundles`, each checked against its digest like any file) and, when
 * `chainId` is given, that chain's entries in seq order. Read-only.
 */
export async function readPostgresForReplay(url: string, chainId?: string): Promise<{ entries: AuditEntryBody[]; bundles: Array<[string, Buffer]> }> {
  const reader = openPostgresReader(url);
  try {
    const bundles = (await reader.bundles()).map((b): [string, Buffer] => [b.sha256, b.bytes]);
    const entries: AuditEntryBody[] = [];
    if (chainId !== undefined) {
      const read = reader.reader(chainId);
      for (let after = 0; ; ) {
        const rows = await read(after, 500);
        if (rows.length === 0) break;
        for (const row of rows) entries.push(rowToEntry(row));
        after = rows[rows.length - 1]!.seq;
      }
    }
    return { entries, bundles };
  } finally {
    await reader.close();
  }
}
