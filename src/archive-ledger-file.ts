import { openLedger, openLedgerReader, type NewEntry } from './audit/index.js';
import { archiveLedger, openArchiveStore, probeArchiveLock, takeArchiveLock, verifyArchive, type ArchiveRecord, type ArchiveStore, type ArchiveVerifyReport, type LockProbe, type SegmentSource } from './archive/index.js';
import type { Clock } from './clock.js';
import type { Config } from './config/index.js';
import { FlaggateError } from './errors.js';
import { coverHead } from './rotate-keys.js';

type ArchiveConfig = NonNullable<Config['archive']>;

/** The store `archive` in the configuration names; CONFIG_INVALID when there is none. */
export function archiveStoreOf(config: Readonly<Config>): { store: ArchiveStore; archive: ArchiveConfig } {
  const archive = config.archive;
  if (!archive) throw new FlaggateError('CONFIG_INVALID', 'no archive is configured (archive.bucket and archive.retentionDays, or FLAGGATE_ARCHIVE_*)');
  const store = openArchiveStore({
    bucket: archive.bucket,
    region: archive.region,
    forcePathStyle: archive.forcePathStyle ?? archive.endpoint !== undefined,
    ...(archive.endpoint ? { endpoint: archive.endpoint } : {}),
    ...(archive.accessKeyId && archive.secretAccessKey ? { credentials: { accessKeyId: archive.accessKeyId, secretAccessKey: archive.secretAccessKey } } : {}),
  });
  return { store, archive };
}

function readSource(path: string): SegmentSource & { close(): void } {
  const reader = openLedgerReader(path);
  if (!reader.chainId) {
    reader.close();
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `${path} is not bound to a chain`);
  }
  return { ...reader, chainId: reader.chainId };
}

/**
 * `flaggate archive`: archives every segment a checkpoint sealed since the last archived one, each
 * recorded as an `archive.sealed` entry by the operating-system user who ran it; with `probe`, first
 * proves the bucket refuses to shorten or delete a locked version. Safe beside a running sidecar (the
 * ledger takes its write lock per commit). A run that archives nothing (no new checkpoint) is fine.
 */
export interface ArchiveFileRun {
  /** The segments this run archived, in order (none when no checkpoint sealed one since the last). */
  archived: ArchiveRecord[];
  archivedThrough: number;
  probe?: LockProbe;
  /** Whether the new `archive.sealed` entries got a timestamp token. */
  covered?: boolean;
}

export async function archiveLedgerFile(o: { config: Readonly<Config>; actor: string; clock: Clock; probe: boolean }): Promise<ArchiveFileRun> {
  const result = await archiveAll(o);
  // The new entries get their timestamp token now, as a key rotation's do, so the chain verifies without waiting for a sidecar.
  return result.archived.length > 0 ? { ...result, covered: await coverHead(o.config, o.clock) } : result;
}

async function archiveAll(o: { config: Readonly<Config>; actor: string; clock: Clock; probe: boolean }): Promise<ArchiveFileRun> {
  const { store, archive } = archiveStoreOf(o.config);
  try {
    const release = takeArchiveLock(o.config.audit.file);
    try {
      return await archiveLocked(o, store, archive);
    } finally {
      release();
    }
  } finally {
    store.close();
  }
}

async function archiveLocked(o: { config: Readonly<Config>; actor: string; clock: Clock; probe: boolean }, store: ArchiveStore, archive: ArchiveConfig): Promise<ArchiveFileRun> {
  const source = readSource(o.config.audit.file);
  const ledger = openLedger({ path: o.config.audit.file, chainId: o.config.audit.chainId, clock: o.clock });
  try {
    const probe = o.probe ? await probeArchiveLock(store, { prefix: archive.prefix, chainId: source.chainId, clock: o.clock }) : undefined;
    if (probe && !probe.ok) return { archived: [], archivedThrough: 0, probe };
    const deps = {
      source,
      append: (entry: NewEntry) => ledger.append(entry),
      store,
      prefix: archive.prefix,
      retentionDays: archive.retentionDays,
      clock: o.clock,
      actor: { id: o.actor, display_name: o.actor, auth_method: 'host' as const, roles: [] },
      bundleFiles: o.config.policy.bundle ? [o.config.policy.bundle] : [],
    };
    // Every sealed segment not yet archived, one after the other.
    const archived: ArchiveRecord[] = [];
    for (let run = await archiveLedger(deps); ; run = await archiveLedger(deps)) {
      if (!run.archived) return { archived, archivedThrough: run.archivedThrough, ...(probe ? { probe } : {}) };
      archived.push(run.archived);
    }
  } finally {
    ledger.close();
    source.close();
  }
}

/** `flaggate verify --db PATH --archive`: the ledger file against the configured archive. */
export async function verifyLedgerArchive(db: string, config: Readonly<Config>): Promise<ArchiveVerifyReport> {
  const { store, archive } = archiveStoreOf(config);
  const source = readSource(db);
  try {
    return await verifyArchive(source, store, { prefix: archive.prefix, chainId: source.chainId });
  } finally {
    source.close();
    store.close();
  }
}
