import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { writeAttestation } from './attest/index.js';
import { readAttestationInWorker } from './attest-schedule.js';
import { sealExport, type ExportManifest, type Keyring } from './audit/index.js';
import { readArchivedBundle, readPolicyBundle } from './policy/index.js';

// Named as audit's evidenceFiles, the names verify-export accepts in a manifest.
const ROLE_ASSIGNMENTS = 'role-assignments.json';
const RETENTION_POLICY = 'retention-policy.json';
const ATTESTATION_DIR = 'attestation';
const ATTESTATION_FILES = ['attestation.json', 'attestation.html', 'attestation.jws', 'keys.jwks.json'];

/** `attest.exportMaxEntries`' default: about 120 MiB for the checks of a package this large. */
export const DEFAULT_EXPORT_ATTEST_MAX_ENTRIES = 10_000;

/** What the sidecar keeps and for how long: the configured archive retention, as a small document. */
export interface RetentionPolicy {
  /** The WORM archive (`flaggate archive`): segments kept under an S3 Object Lock in COMPLIANCE mode; null when none is configured. */
  archive: { bucket: string; prefix: string; mode: 'COMPLIANCE'; retentionDays: number } | null;
  /** The ledger itself is append-only: nothing in it expires. */
  ledger: { appendOnly: true; expires: false };
}

/** The retention document of a configuration's `archive` section (absent: no archive). */
export function retentionPolicy(archive: { bucket: string; prefix: string; retentionDays: number } | undefined): RetentionPolicy {
  return {
    archive: archive ? { bucket: archive.bucket, prefix: archive.prefix, mode: 'COMPLIANCE', retentionDays: archive.retentionDays } : null,
    ledger: { appendOnly: true, expires: false },
  };
}

export interface EvidenceOptions {
  chainId: string;
  createdAt: string;
  keyring: Keyring;
  /** Where archived bundles are found by digest. */
  bundleArchive: string;
  /** The bundle the sidecar runs; unset (a ledger file): the newest revision the package's entries name. */
  runningBundle?: string | undefined;
  retention: RetentionPolicy;
  maxDelaySeconds: number;
  skewSeconds: number;
  /** A package whose chain holds more entries carries no attestation (see attest.exportMaxEntries). */
  attestMaxEntries: number;
  /** Told why the attestation was left out. */
  onSkipped?: ((why: string) => void) | undefined;
  /** Aborted when the client goes away: the attestation's worker stops. */
  signal?: AbortSignal | undefined;
}

/** The keys of a bundle's data that say who holds which role and who may approve. */
const ROLE_KEYS = ['roles', 'role_mapping', 'critical_approval', 'break_glass', 'platform_writers'] as const;

/**
 * Completes a written package with the role assignments in force, the retention policy and the
 * attestation for the period, each listed in the signed manifest. The attestation is made from the
 * package itself (sealed and verified first, as `flaggate attest --export` does), so its verdict is
 * the package's; the manifest is then signed again over it.
 */
export async function addEvidence(out: string, body: Pick<ExportManifest, 'period' | 'filters' | 'anchorSeq' | 'sealSeq' | 'entries' | 'files'>, o: EvidenceOptions): Promise<ExportManifest> {
  const bundle = runningBundlePath(out, o);
  const put = (name: string, value: unknown) => {
    const text = JSON.stringify(value, null, 2) + '\n';
    writeText(join(out, name), text);
    body.files[name] = sha256(text);
  };
  put(ROLE_ASSIGNMENTS, await roleAssignments(bundle));
  put(RETENTION_POLICY, o.retention);
  const sealed = await sealExport(out, body, { chainId: o.chainId, createdAt: o.createdAt, keyring: o.keyring });
  // The checks hold the package's entries in memory: past the bound the package goes without the
  // report (an export stays flat in memory), and `flaggate attest --export` makes it offline.
  if (body.sealSeq - body.anchorSeq > o.attestMaxEntries) {
    o.onSkipped?.(`the package's chain holds ${body.sealSeq - body.anchorSeq} entries, more than attest.exportMaxEntries (${o.attestMaxEntries})`);
    return sealed;
  }
  // Read and checked in a worker, as `flaggate attest --export` would: the event loop only signs.
  const report = await readAttestationInWorker(
    {
      exportDir: out,
      from: body.period.from ?? '1970-01-01T00:00:00.000Z',
      to: body.period.to ?? o.createdAt,
      ...(bundle ? { bundle: bundle.path } : {}),
      maxDelaySeconds: o.maxDelaySeconds,
      skewSeconds: o.skewSeconds,
      generatedAt: o.createdAt,
    },
    o.signal,
  );
  await writeAttestation(join(out, ATTESTATION_DIR), report, o.keyring);
  for (const f of ATTESTATION_FILES) body.files[`${ATTESTATION_DIR}/${f}`] = sha256(readFileSync(join(out, ATTESTATION_DIR, f)));
  return await sealExport(out, body, { chainId: o.chainId, createdAt: o.createdAt, keyring: o.keyring });
}

function runningBundlePath(out: string, o: EvidenceOptions): { sha256: string; path: string } | undefined {
  let sha = o.runningBundle;
  if (!sha) {
    const revisions = JSON.parse(readFileSync(join(out, 'policy-revisions.json'), 'utf8')) as Array<{ sha256: string | null }>;
    sha = revisions.map((r) => r.sha256).filter((s): s is string => s !== null).at(-1);
  }
  // Read through the archive's check: a swapped file is not reported as the bundle in force.
  if (!sha || !readArchivedBundle(o.bundleArchive, sha)) return undefined;
  const path = join(o.bundleArchive, `${sha}.tar.gz`);
  return existsSync(path) ? { sha256: sha, path } : undefined;
}

async function roleAssignments(bundle: { sha256: string; path: string } | undefined) {
  if (!bundle) return { bundle: null, note: 'the bundle in force is not in the bundle archive' };
  const { data, revision } = await readPolicyBundle(bundle.path);
  const config = (data as { flaggate?: { config?: Record<string, unknown> } }).flaggate?.config ?? {};
  const picked = Object.fromEntries(ROLE_KEYS.filter((k) => k in config).map((k) => [k, config[k]]));
  return { bundle: { sha256: bundle.sha256, revision }, ...picked };
}

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

function writeText(path: string, text: string): void {
  // Private like the package's other files.
  writeFileSync(path, text, { mode: 0o600 });
}
