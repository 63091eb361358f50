import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { buildAttestation, readControlMapping, writeAttestation, type AttestationReport, type AttestVerification } from './attest/index.js';
import { jsonLines, openKeyring, openLedgerReader, readKeys, rowToEntry, verifyExport, type AuditEntry, type Keyring, type StoredRow } from './audit/index.js';
import { isoUtc, type Clock } from './clock.js';
import { FlaggateError } from './errors.js';
import { readPolicyBundle } from './policy/index.js';
import { verifyCoverage } from './timestamp/index.js';
import { verifyLedgerFile } from './verify-ledger-file.js';

/** `flaggate attest`: one period, from a ledger file or an export package, into `out`. */
export interface AttestRequest {
  from: string;
  to: string;
  out: string;
  /** The SQLite ledger (its keyring, TSA certificates and JSON Lines copy beside it), or … */
  db?: string;
  /** … an export package folder, verified as `verify-export` does. */
  exportDir?: string;
  /** Checkpoint public keys to verify against, a JWKS or keyring.json (default: those beside the ledger, or the package's copy). */
  keys?: string;
  /** The keyring whose active key signs the report (default: audit-keys/ beside the ledger). */
  keyringDir?: string;
  /** The keyring to sign with, already open (the running sidecar's); instead of `keyringDir`. */
  keyring?: Keyring;
  /** The control mapping (default: the shipped compliance/controls.json). */
  controls?: string;
  /** The policy bundle whose data names the critical flags (`critical_flags`). */
  bundle?: string;
  maxDelaySeconds: number;
  skewSeconds: number;
  clock: Clock;
}

/**
 * Reads and verifies the evidence, runs the checks over the period, and writes the signed report.
 * The whole chain is read (not only the period), so an acknowledgement or review made after the
 * period still resolves a finding made in it.
 */
export async function attestPeriod(o: AttestRequest): Promise<AttestationReport> {
  checkScope(o);
  const keyringDir = o.keyringDir ?? (o.db ? join(dirname(resolve(o.db)), 'audit-keys') : undefined);
  // A keyring is never made here: a report signed by a key nobody published would prove nothing.
  if (!o.keyring && (!keyringDir || !existsSync(join(keyringDir, 'keyring.json')))) throw new FlaggateError('CONFIG_INVALID', `no checkpoint keyring to sign with${keyringDir ? ` at ${keyringDir}` : ': give --keyring DIR'}`);
  const report = await readAttestation(o);
  await writeAttestation(o.out, report, o.keyring ?? (await openKeyring(keyringDir!, o.clock)));
  return report;
}

/** The report of a period, unsigned: what `attestPeriod` signs (a worker makes it for the schedule, the sidecar signs it). */
export async function readAttestation(o: Omit<AttestRequest, 'out' | 'keyring' | 'keyringDir'>): Promise<AttestationReport> {
  checkScope(o);
  const evidence = o.db ? await fromLedger(o.db, o) : await fromExport(o.exportDir!, o);
  return buildAttestation({
    entries: evidence.entries,
    period: { from: o.from, to: o.to },
    source: { kind: o.db ? 'ledger' : 'export', chainId: evidence.chainId },
    verification: evidence.verification,
    criticalFlags: o.bundle ? await criticalFlagsOf(o.bundle) : [],
    mapping: readControlMapping(o.controls),
    generatedAt: isoUtc(o.clock.now()),
  });
}

function checkScope(o: Pick<AttestRequest, 'db' | 'exportDir' | 'from' | 'to'>): void {
  if (!o.db === !o.exportDir) throw new FlaggateError('CONFIG_INVALID', 'give exactly one of --db and --export');
  if (!(o.from < o.to)) throw new FlaggateError('CONFIG_INVALID', '--from must come before --to');
}

interface Evidence {
  entries: AuditEntry[];
  chainId: string | null;
  verification: AttestVerification;
}

async function fromLedger(db: string, o: Pick<AttestRequest, 'maxDelaySeconds' | 'skewSeconds' | 'keys'>): Promise<Evidence> {
  const checked = await verifyLedgerFile({ db, maxDelaySeconds: o.maxDelaySeconds, skewSeconds: o.skewSeconds, ...(o.keys ? { keys: o.keys } : {}) });
  const reader = openLedgerReader(resolve(db));
  try {
    const entries: AuditEntry[] = [];
    for (let rows = reader.rowsAfter(0, 5000); rows.length > 0; rows = reader.rowsAfter(rows.at(-1)!.seq, 5000)) entries.push(...rows.map(rowToEntry));
    const { failure, ...details } = checked;
    return { entries, chainId: reader.chainId ?? null, verification: { ok: checked.ok, details: { ...details }, failure: failure ? { kind: failure.kind, seq: failure.seq ?? null, message: failure.message } : null } };
  } finally {
    reader.close();
  }
}

async function fromExport(dir: string, o: Pick<AttestRequest, 'maxDelaySeconds' | 'skewSeconds' | 'keys'>): Promise<Evidence> {
  const checked = await verifyExport(resolve(dir), { verifyTokens: verifyCoverage, maxTimestampDelaySeconds: o.maxDelaySeconds, clockSkewSeconds: o.skewSeconds, ...(o.keys ? { keys: readKeys(resolve(o.keys)) } : {}) });
  // The sealed chain.jsonl, not the filtered entries.jsonl: every entry of the range, unfiltered.
  // Read a line at a time: a large package's chain.jsonl is longer than a string can be.
  const entries: AuditEntry[] = [];
  for (const row of jsonLines(join(resolve(dir), 'chain.jsonl'), 'chain.jsonl')) entries.push(rowToEntry(row as StoredRow));
  const { failure, ...details } = checked;
  return {
    entries,
    chainId: checked.chainId,
    verification: { ok: checked.ok, details: { ...details }, failure: failure ? { kind: failure.kind, seq: failure.seq ?? null, message: failure.message } : null },
  };
}

/** The critical-flag patterns of a policy bundle's data (`flaggate.config.critical_flags`). */
async function criticalFlagsOf(bundle: string): Promise<string[]> {
  const { data } = await readPolicyBundle(bundle);
  const flags = (data as { flaggate?: { config?: { critical_flags?: unknown } } }).flaggate?.config?.critical_flags;
  return Array.isArray(flags) ? flags.filter((f): f is string => typeof f === 'string') : [];
}
