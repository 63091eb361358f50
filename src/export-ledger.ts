import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isoUtc, systemClock, type Clock } from './clock.js';
import { archiveExportInWorker, openKeyring, openLedger, openLedgerReader, signCheckpoint, verifyChain, verifyCheckpoint, writeExportInWorker, type ExportFilters, type ExportManifest, type Keyring, type Ledger } from './audit/index.js';
import { FlaggateError } from './errors.js';
import { addEvidence, DEFAULT_EXPORT_ATTEST_MAX_ENTRIES, retentionPolicy, type RetentionPolicy } from './export-evidence.js';
import { BUNDLE_ARCHIVE_DIR, readArchivedBundle } from './policy/index.js';
import type { Timestamper } from './timestamp/index.js';

/** What to export: a period (ISO, `to` exclusive), filters, and the package size cap. */
export interface ExportRequest {
  out: string;
  from?: string;
  to?: string;
  filters?: ExportFilters;
  /** The data files may not pass this many bytes (AUDIT_EXPORT_TOO_LARGE). */
  maxBytes: number;
  /** Aborted when the client goes away: the worker stops; the caller removes `out`. */
  signal?: AbortSignal;
  /** The policy bundle archive whose bundles the package carries (default: `policy-bundles` beside the ledger file). */
  bundleArchive?: string;
  /** The digest of the bundle the sidecar runs, whose roles and approvers the package names (default: the newest its entries name). */
  runningBundle?: string;
  /** The retention the package states (default: no archive configured). */
  retention?: RetentionPolicy;
  /** The bounds the package's attestation verifies timestamps with (default: config.verify's defaults). */
  verify?: { maxDelaySeconds: number; skewSeconds: number };
  /** The package carries the period's attestation only while its chain holds at most this many entries (default: attest.exportMaxEntries' default). */
  attestMaxEntries?: number;
  /** Told why a package was left without its attestation. */
  onAttestSkipped?: (why: string) => void;
}

/**
 * An export of a running sidecar's ledger (for /v1/audit/export): the head is covered by a token
 * and sealed by a fresh checkpoint first, so the package's newest entries are provable too. The
 * rows are read and written by a worker thread; only the manifest is signed here.
 */
export async function exportLedger(o: ExportRequest & { ledger: Ledger; keyring: Keyring; timestamper: Timestamper; clock: Clock }): Promise<ExportManifest> {
  // The head read through the ledger given is the one covered: a sidecar's commits what waits for a
  // group first (an outcome after its reply), which the timestamper's own reading would not see.
  const head = o.ledger.head();
  if (head.seq > 0) await o.timestamper.cover(head.seq, head.hash).catch(() => undefined); // an outage shows in the package as uncovered
  await sealHead(o.ledger, o.keyring, o.clock);
  const trust = o.timestamper.trust;
  return await writePackage({ ...o, bundleArchive: o.bundleArchive ?? join(dirname(o.ledger.path), BUNDLE_ARCHIVE_DIR) }, {
    db: o.ledger.path,
    chainId: o.ledger.chainId,
    keyring: o.keyring,
    trust: { trustAnchorsPem: pemText(trust.trustAnchorsPem), untrustedPem: pemText(trust.untrustedPem ?? '') },
    createdAt: isoUtc(o.clock.now()),
  });
}

/**
 * The same, packed for download: the package is written to `<dir>/package`, then packed by a
 * worker into `<dir>/export.tar.gz` (the folder is removed); resolves with the archive's path.
 */
export async function exportLedgerArchive(o: Parameters<typeof exportLedger>[0]): Promise<string> {
  await exportLedger({ ...o, out: join(o.out, 'package') });
  const archive = join(o.out, 'export.tar.gz');
  await archiveExportInWorker(join(o.out, 'package'), archive, o.signal);
  return archive;
}

/**
 * `flaggate export --db`: the same package from a ledger file, using the keyring and embedded TSA
 * certificates kept beside it.
 */
export async function exportLedgerFile(o: ExportRequest & { db: string }): Promise<ExportManifest> {
  const fresh = !existsSync(o.out);
  try {
    return await exportFile(o);
  } catch (err) {
    if (fresh) rmSync(o.out, { recursive: true, force: true }); // no half package left behind
    throw err;
  }
}

async function exportFile(o: ExportRequest & { db: string }): Promise<ExportManifest> {
  const dataDir = dirname(o.db);
  const keyring = await openKeyring(join(dataDir, 'audit-keys'), systemClock);
  const chainId = await sealLedgerFile(o.db, keyring);
  const read = (name: string) => (existsSync(join(dataDir, 'tsa', name)) ? readFileSync(join(dataDir, 'tsa', name), 'utf8') : '');
  return await writePackage({ ...o, bundleArchive: o.bundleArchive ?? join(dataDir, BUNDLE_ARCHIVE_DIR) }, {
    db: o.db,
    chainId,
    keyring,
    trust: { trustAnchorsPem: read('ca.crt'), untrustedPem: read('tsa.crt') },
    createdAt: isoUtc(systemClock.now()),
  });
}

async function writePackage(
  o: ExportRequest,
  s: { db: string; chainId: string; keyring: Keyring; trust: { trustAnchorsPem: string; untrustedPem: string }; createdAt: string },
): Promise<ExportManifest> {
  const body = await writeExportInWorker(
    {
      db: s.db,
      dir: o.out,
      chainId: s.chainId,
      keys: s.keyring.jwks(),
      trust: s.trust,
      filters: o.filters ?? {},
      maxBytes: o.maxBytes,
      ...(o.from ? { from: o.from } : {}),
      ...(o.to ? { to: o.to } : {}),
    },
    o.signal,
  );
  const bundleArchive = o.bundleArchive ?? join(dirname(s.db), BUNDLE_ARCHIVE_DIR);
  addPolicyBundles(o.out, body, bundleArchive, o.maxBytes);
  return await addEvidence(o.out, body, {
    chainId: s.chainId,
    createdAt: s.createdAt,
    keyring: s.keyring,
    bundleArchive,
    runningBundle: o.runningBundle,
    retention: o.retention ?? retentionPolicy(undefined),
    maxDelaySeconds: o.verify?.maxDelaySeconds ?? 3600,
    skewSeconds: o.verify?.skewSeconds ?? 300,
    signal: o.signal,
    attestMaxEntries: o.attestMaxEntries ?? DEFAULT_EXPORT_ATTEST_MAX_ENTRIES,
    onSkipped: o.onAttestSkipped,
  });
}

/**
 * Copies each archived bundle that `policy-revisions.json` names into `policy-bundles/<sha256>.tar.gz`
 * and lists it in the manifest, so `flaggate replay --export` re-evaluates decisions offline with the
 * exact bytes that made them. A bundle the archive lacks (or holds altered) is left out: replay
 * names the entries it decided. Bundles count against the package's size cap.
 */
function addPolicyBundles(out: string, body: Awaited<ReturnType<typeof writeExportInWorker>>, archive: string, maxBytes: number): void {
  const revisions = JSON.parse(readFileSync(join(out, 'policy-revisions.json'), 'utf8')) as Array<{ sha256: string | null }>;
  let total = 0;
  for (const { sha256 } of revisions) {
    if (sha256 === null) continue;
    const bytes = readArchivedBundle(archive, sha256);
    if (!bytes) continue;
    total += bytes.length;
    if (total > maxBytes) throw new FlaggateError('AUDIT_EXPORT_TOO_LARGE', `the policy bundles pass the export size cap of ${maxBytes} bytes`);
    mkdirSync(join(out, BUNDLE_ARCHIVE_DIR), { recursive: true });
    writeFileSync(join(out, BUNDLE_ARCHIVE_DIR, `${sha256}.tar.gz`), bytes);
    body.files[`${BUNDLE_ARCHIVE_DIR}/${sha256}.tar.gz`] = sha256;
  }
}

/** Signs a checkpoint over the file's head when none seals it yet; returns the file's chain id. */
async function sealLedgerFile(db: string, keyring: Keyring): Promise<string> {
  const reader = openLedgerReader(db);
  const chainId = reader.chainId;
  reader.close();
  if (!chainId) throw new TypeError(`${db} is not a flaggate ledger`);
  const ledger = openLedger({ path: db, chainId, clock: systemClock });
  try {
    await sealHead(ledger, keyring, systemClock);
  } finally {
    ledger.close();
  }
  return chainId;
}

/**
 * Signs a checkpoint over the head, which vouches for every entry before it: only once the entries
 * after the newest checkpoint that verifies form the chain from it (a row edited, deleted or
 * inserted there would otherwise be sealed as if it were history). Throws AUDIT_CHAIN_BROKEN.
 */
async function sealHead(ledger: Ledger, keyring: Keyring, clock: Clock): Promise<void> {
  const head = ledger.head();
  const checkpoints = ledger.checkpoints();
  const latest = checkpoints.at(-1);
  if (head.seq === 0 || (latest && latest.seq >= head.seq)) return;
  let anchor: { seq: number; hash: string } | undefined;
  for (const cp of [...checkpoints].reverse()) {
    const verified = await verifyCheckpoint(cp, keyring.jwks());
    if (verified.ok && verified.claims.chainId === ledger.chainId) {
      anchor = { seq: verified.claims.seq, hash: verified.claims.hash };
      break;
    }
  }
  const report = await verifyChain((after, limit) => ledger.rowsAfter(after, limit), { chainId: ledger.chainId, from: anchor ? anchor.seq + 1 : 1, to: head.seq, ...(anchor ? { anchor } : {}) });
  if (!report.ok) {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the chain does not verify (seq ${report.failure!.seq}, ${report.failure!.kind}): no checkpoint is signed over it, and nothing is exported`, {
      details: { seq: report.failure!.seq, kind: report.failure!.kind },
    });
  }
  ledger.appendCheckpoint(await signCheckpoint({ chainId: ledger.chainId, seq: head.seq, hash: head.hash, time: isoUtc(clock.now()) }, keyring));
}

function pemText(pem: string | string[]): string {
  return Array.isArray(pem) ? pem.join('\n') : pem;
}
