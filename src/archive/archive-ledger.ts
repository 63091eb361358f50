import { createHash } from 'node:crypto';
import type { AuditEntry, NewEntry } from '../audit/index.js';
import { isoUtc, type Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { archiveRecordsIn, archiveSealedEntry, type ArchiveRecord } from './entries.js';
import { sealSegment, type SegmentSource } from './segment.js';
import type { ArchiveStore } from './store.js';
import { refuseForkedArchive } from './verify-archive.js';

export interface ArchiveDeps {
  /** The ledger file, read-only: segments are cut from what is stored. */
  source: SegmentSource;
  /** Records the `archive.sealed` entry in the chain. */
  append(entry: NewEntry): AuditEntry | Promise<AuditEntry>;
  store: ArchiveStore;
  /** Key prefix in the bucket; segments go under `<prefix><chain_id>/`. */
  prefix: string;
  retentionDays: number;
  clock: Clock;
  actor: NewEntry['actor'];
  /** Policy bundle files whose tarballs go into a segment whose decisions name them. */
  bundleFiles: readonly string[];
  /** A segment closes at the newest checkpoint within this many entries (or the first past it, when none is). */
  maxSegmentEntries?: number;
}

export interface ArchiveRun {
  /** What this run archived (nothing when no checkpoint closed a segment since the last). */
  archived: ArchiveRecord | null;
  /** The last seq the chain records as archived, after this run. */
  archivedThrough: number;
}

/** The last seq the chain already records as archived, from its own `archive.sealed` entries. */
export function archivedThrough(source: Pick<SegmentSource, 'rowsAfter'>): number {
  let through = 0;
  for (let after = 0; ; ) {
    const rows = source.rowsAfter(after, 5000);
    if (rows.length === 0) return through;
    for (const { record } of archiveRecordsIn(rows)) through = Math.max(through, record.to_seq);
    after = rows[rows.length - 1]!.seq;
  }
}

const pad = (n: number) => String(n).padStart(12, '0');

/**
 * Archives the segment from the last archived seq to the newest checkpoint (within
 * `maxSegmentEntries`; call again until `archived` is null to catch up): uploads it under a
 * COMPLIANCE lock for `retentionDays`, reads that version back and checks its SHA-256 and its lock,
 * and only then records an `archive.sealed` entry. A failed check records nothing (the next run
 * uploads a new version); it throws ARCHIVE_MISMATCH, ARCHIVE_NOT_LOCKED or ARCHIVE_UNAVAILABLE.
 */
export async function archiveLedger(d: ArchiveDeps): Promise<ArchiveRun> {
  const through = archivedThrough(d.source);
  const open = d.source.checkpoints().filter((c) => c.seq > through);
  // A segment is held in memory whole: a long unarchived stretch goes up in several, each one run.
  const limit = through + (d.maxSegmentEntries ?? 50_000);
  const closing = open.filter((c) => c.seq <= limit).at(-1) ?? open[0];
  if (!closing) return { archived: null, archivedThrough: through };
  await refuseForkedArchive(d.source, d.store, { prefix: d.prefix, chainId: d.source.chainId });
  const sealed = sealSegment(d.source, through, closing, d.bundleFiles);
  const key = `${d.prefix}${d.source.chainId}/${pad(sealed.segment.from_seq)}-${pad(sealed.segment.to_seq)}.json`;
  // S3 keeps retention dates to the second: round up, so what is read back is never earlier than asked.
  const retainUntil = new Date(Math.ceil((d.clock.now() + d.retentionDays * 86_400_000) / 1000) * 1000);
  const { versionId } = await d.store.putLocked(key, sealed.bytes, retainUntil);
  await checkArchived(d.store, { key, versionId, sha256: sealed.sha256, retainUntil });
  const record: ArchiveRecord = {
    bucket: d.store.bucket,
    key,
    version_id: versionId,
    retention_mode: 'COMPLIANCE',
    retain_until: isoUtc(retainUntil.getTime()),
    sha256: sealed.sha256,
    bytes: sealed.bytes.length,
    from_seq: sealed.segment.from_seq,
    to_seq: sealed.segment.to_seq,
    head_hash: sealed.segment.head_hash,
  };
  await d.append(archiveSealedEntry(record, d.actor));
  return { archived: record, archivedThrough: record.to_seq };
}

/** Reads a version back: its bytes must hash to `sha256`, and it must be under COMPLIANCE until at least `retainUntil`. Returns the bytes. */
export async function checkArchived(store: ArchiveStore, o: { key: string; versionId: string; sha256: string; retainUntil: Date }): Promise<Buffer> {
  const details = { bucket: store.bucket, key: o.key, versionId: o.versionId };
  const bytes = await store.get(o.key, o.versionId);
  const found = createHash('sha256').update(bytes).digest('hex');
  if (found !== o.sha256) {
    throw new FlaggateError('ARCHIVE_MISMATCH', `s3://${store.bucket}/${o.key} version ${o.versionId} hashes to ${found}, not ${o.sha256}`, {
      details: { ...details, expected: o.sha256, found },
    });
  }
  const retention = await store.retention(o.key, o.versionId);
  if (retention.mode !== 'COMPLIANCE' || !retention.retainUntil || retention.retainUntil.getTime() < o.retainUntil.getTime()) {
    throw new FlaggateError(
      'ARCHIVE_NOT_LOCKED',
      `s3://${store.bucket}/${o.key} version ${o.versionId} is under ${retention.mode ?? 'no'} retention until ${retention.retainUntil?.toISOString() ?? 'never'}, not COMPLIANCE until ${o.retainUntil.toISOString()}`,
      { details: { ...details, mode: retention.mode, retainUntil: retention.retainUntil?.toISOString() ?? null, expectedUntil: o.retainUntil.toISOString() } },
    );
  }
  return bytes;
}
