import { createHash, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { canonicalJson, openKeyring, openLedger, type AuditEntry, type NewEntry } from './audit/index.js';
import type { Clock } from './clock.js';
import type { Config } from './config/index.js';
import { FlaggateError } from './errors.js';
import { rotateDevIssuer } from './identify/index.js';
import { createLogger } from './log.js';
import { createMetrics } from './metrics.js';
import { createTimestamper, rotateEmbeddedTsa } from './timestamp/index.js';

/** The signing keys `flaggate keys rotate` replaces. */
export type KeyKind = 'checkpoint' | 'tsa' | 'dev-issuer';

export interface KeyRotation {
  kind: KeyKind;
  /** A JWK thumbprint (checkpoint, dev-issuer) or the SHA-256 of the TSA certificate; null on a first key. */
  previous: string | null;
  current: string;
}

export interface RotationReport {
  rotations: KeyRotation[];
  /** The `key.rotated` entries, one per key, in one transaction. */
  entries: Array<{ seq: number; hash: string }>;
  /** Whether a timestamp token covers them yet (else the sidecar's next sweep or start does). */
  covered: boolean;
}

/**
 * Rotates each key asked for, then records every rotation as a `key.rotated` ledger entry and
 * covers it with a timestamp token. Earlier public keys and certificates stay where verifiers read
 * them, so entries, checkpoints and tokens made before the rotation keep verifying. The ledger is
 * opened first (a chain it is not bound to is refused before any key changes); keys are replaced
 * before they are recorded: an entry names a key that exists. Safe beside a running
 * sidecar (the ledger takes its write lock per commit); that sidecar signs its next checkpoint with
 * the new checkpoint key (the keyring reads its manifest again when it changes, and the retired
 * key's private half is destroyed), keeps its TSA key until it restarts, and picks up a new
 * development issuer key on the first token.
 */
export async function rotateKeys(o: { config: Readonly<Config>; kinds: KeyKind[]; actor: string; reason?: string; clock: Clock }): Promise<RotationReport> {
  const { config, clock } = o;
  if (o.kinds.length === 0) throw new TypeError('name at least one key to rotate');
  if (o.kinds.includes('tsa') && config.timestamp.tsaUrls.length > 0) {
    throw new FlaggateError('CONFIG_INVALID', 'timestamp.tsaUrls names external TSAs: their keys are rotated by whoever runs them');
  }
  if (o.kinds.includes('dev-issuer') && !config.identity.devIssuer) throw new FlaggateError('CONFIG_INVALID', 'the development issuer is not enabled in this configuration');

  // The ledger first: one that cannot take the entries (another chain, unwritable) refuses the
  // rotation before any key is replaced, so no key is left in force that no entry records.
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  let entries: AuditEntry[];
  const rotations: KeyRotation[] = [];
  try {
    for (const kind of new Set(o.kinds)) rotations.push(await rotateOne(kind, config, clock));
    entries = ledger.appendMany(rotations.map((r) => rotationEntry(r, o.actor, o.reason ?? null)));
  } finally {
    ledger.close();
  }
  return { rotations, entries: entries.map((e) => ({ seq: e.seq, hash: e.hash })), covered: await coverHead(config, clock) };
}

async function rotateOne(kind: KeyKind, config: Readonly<Config>, clock: Clock): Promise<KeyRotation> {
  switch (kind) {
    case 'checkpoint': {
      const keyring = await openKeyring(config.audit.keysDir, clock);
      const previous = keyring.jwks().keys[0]?.kid ?? null;
      return { kind, previous, current: await keyring.rotate() };
    }
    case 'tsa': {
      const r = rotateEmbeddedTsa(join(config.dataDir, 'tsa'), new Date(clock.now()));
      return { kind, previous: r.previous, current: r.current };
    }
    case 'dev-issuer':
      return { kind, ...(await rotateDevIssuer(config.dataDir)) };
  }
}

function rotationEntry(r: KeyRotation, actor: string, reason: string | null): NewEntry {
  const newState = { key: r.kind, id: r.current };
  return {
    entry_type: 'key.rotated',
    decision_id: randomUUID(),
    change_request_id: null,
    actor: { id: actor, display_name: actor, auth_method: 'host', roles: [] },
    action: 'key.rotate',
    platform: 'flaggate',
    project: null,
    flag_key: null,
    environment: null,
    previous_state: r.previous === null ? null : { key: r.kind, id: r.previous },
    new_state: newState,
    reason,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: null },
    decision: { allow: true, reasons: [`${r.kind} key rotated by command`], error_code: null, policy_revision: null, policy_sha256: null },
    request: { method: 'CLI', path: `/keys/${r.kind}/rotate`, body_sha256: createHash('sha256').update(canonicalJson(newState)).digest('hex') },
    outcome: { status: 'applied', platform_status: null, error_code: null, detail: null, response_sha256: null },
  };
}

/** A token over the head (entries a command just recorded), made with the TSA as now configured; false when none could be made. */
export async function coverHead(config: Readonly<Config>, clock: Clock): Promise<boolean> {
  const ledger = openLedger({ path: config.audit.file, chainId: config.audit.chainId, clock });
  const timestamper = createTimestamper({
    config: config.timestamp,
    dataDir: config.dataDir,
    ledgerPath: config.audit.file,
    head: ledger.head,
    clock,
    metrics: createMetrics(),
    logger: createLogger({ level: 'silent' }),
  });
  try {
    await timestamper.coverHead();
    return true;
  } catch {
    return timestamper.coveringToken(ledger.head().seq) !== undefined;
  } finally {
    timestamper.close();
    ledger.close();
  }
}
