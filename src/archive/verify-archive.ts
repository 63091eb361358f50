import { asFlaggateError, FlaggateError, type ErrorCode } from '../errors.js';
import { checkArchived } from './archive-ledger.js';
import { archiveRecordsIn, type ArchiveRecord } from './entries.js';
import { parseSegment, type SegmentSource } from './segment.js';
import type { ArchiveStore } from './store.js';

export interface ArchiveFailure {
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

export interface SegmentCheck {
  key: string;
  versionId: string;
  fromSeq: number;
  toSeq: number;
  /** The seq of the `archive.sealed` entry that records it; 0 for a version found in the store that no entry records. */
  recordedAt: number;
  ok: boolean;
  failure?: ArchiveFailure;
}

export interface ArchiveVerifyReport {
  ok: boolean;
  bucket: string;
  /** The last seq covered by an archived segment that checked out, with no gap before it. */
  archivedThrough: number;
  segments: SegmentCheck[];
  failure?: ArchiveFailure;
}

/**
 * Checks the local chain against the archive: every segment an `archive.sealed` entry records is
 * fetched by its version id, must hash to the recorded digest, still be under COMPLIANCE until the
 * recorded date, link to the segment before it, and hold exactly the local rows (same seq, hash
 * and body). With `where` (the archive's prefix and the chain), every other segment version the
 * store holds for the chain must hold local rows too: the records are in the chain being checked,
 * so a chain cut below an archived segment (its `archive.sealed` entry with it), or rewritten and
 * archived again under the same key, is found by what the locked store still holds. Reads only;
 * the first failure is also the report's `failure`.
 */
export async function verifyArchive(source: Pick<SegmentSource, 'rowsAfter' | 'hashAt'>, store: ArchiveStore, where?: { prefix: string; chainId: string }): Promise<ArchiveVerifyReport> {
  const recorded = recordedSegments(source);
  const segments: SegmentCheck[] = [];
  let through = 0;
  let lastFrom = 0;
  let intact = true;
  for (const { seq, record } of recorded) {
    const check: SegmentCheck = { key: record.key, versionId: record.version_id, fromSeq: record.from_seq, toSeq: record.to_seq, recordedAt: seq, ok: true };
    // The same segment recorded again (two archive runs at once, before runs took a lock): each copy is checked whole.
    const again = intact && through > 0 && record.from_seq === lastFrom && record.to_seq === through;
    try {
      if (record.from_seq !== through + 1 && intact && !again) {
        throw new FlaggateError('ARCHIVE_MISMATCH', `segment ${record.key} starts at seq ${record.from_seq}; the archive before it ends at ${through}`, { details: { expectedFrom: through + 1 } });
      }
      await checkSegment(source, store, record);
      if (intact && !again) {
        lastFrom = record.from_seq;
        through = record.to_seq;
      }
    } catch (err) {
      const e = asFlaggateError(err);
      check.ok = false;
      check.failure = { code: e.code, message: e.message, details: e.details };
      intact = false;
    }
    segments.push(check);
  }
  if (where) segments.push(...(await unrecorded(source, store, where, recorded)));
  const failed = segments.find((s) => !s.ok);
  return { ok: !failed, bucket: store.bucket, archivedThrough: through, segments, ...(failed?.failure ? { failure: failed.failure } : {}) };
}

/** The `archive.sealed` records of the chain, with the seq of the entry that holds each. */
function recordedSegments(source: Pick<SegmentSource, 'rowsAfter'>): Array<{ seq: number; record: ArchiveRecord }> {
  const recorded: Array<{ seq: number; record: ArchiveRecord }> = [];
  for (let after = 0; ; ) {
    const rows = source.rowsAfter(after, 5000);
    if (rows.length === 0) return recorded;
    recorded.push(...archiveRecordsIn(rows));
    after = rows[rows.length - 1]!.seq;
  }
}

/**
 * Before an upload: the store must hold no segment version of the chain that no entry records and
 * the local rows differ from. One does when the ledger was rolled back (a backup restored over it)
 * and grew again: archiving on would lock away a second history. Throws ARCHIVE_MISMATCH.
 */
export async function refuseForkedArchive(source: Pick<SegmentSource, 'rowsAfter' | 'hashAt'>, store: ArchiveStore, where: { prefix: string; chainId: string }): Promise<void> {
  const forked = (await unrecorded(source, store, where, recordedSegments(source))).find((c) => !c.ok);
  if (forked?.failure) {
    // A version that could not be read is not proof of a fork, but nothing is archived past it either.
    throw new FlaggateError(forked.failure.code === 'ARCHIVE_MISMATCH' ? 'ARCHIVE_MISMATCH' : 'ARCHIVE_UNAVAILABLE', forked.failure.message, { details: forked.failure.details ?? {} });
  }
}

/** A segment's key under the chain's folder (the lock probe's objects are beside them). */
const SEGMENT_KEY = /^(\d{12})-(\d{12})\.json$/;

/** The segment versions the store holds for the chain that no `archive.sealed` entry records, each held to the local rows. */
async function unrecorded(source: Pick<SegmentSource, 'rowsAfter' | 'hashAt'>, store: ArchiveStore, where: { prefix: string; chainId: string }, recorded: ReadonlyArray<{ record: ArchiveRecord }>): Promise<SegmentCheck[]> {
  const folder = `${where.prefix}${where.chainId}/`;
  const known = new Set(recorded.map(({ record }) => `${record.key}\u0000${record.version_id}`));
  const checks: SegmentCheck[] = [];
  for (const { key, versionId } of await store.listVersions(folder)) {
    const range = SEGMENT_KEY.exec(key.slice(folder.length));
    if (!key.startsWith(folder) || !range || known.has(`${key}\u0000${versionId}`)) continue;
    const check: SegmentCheck = { key, versionId, fromSeq: Number(range[1]), toSeq: Number(range[2]), recordedAt: 0, ok: true };
    try {
      const segment = parseSegment(await store.get(key, versionId));
      const local = source.rowsAfter(check.fromSeq - 1, check.toSeq - check.fromSeq + 1);
      const differs = segment.rows.find((a, i) => { const l = local[i]; return !l || a.seq !== l.seq || a.hash !== l.hash || a.body !== l.body || a.prev_hash !== l.prev_hash; });
      if (differs) {
        throw new FlaggateError('ARCHIVE_MISMATCH', `the store holds ${key} version ${versionId}, which no entry records, and the local chain ${local.some((l) => l.seq === differs.seq) ? 'differs from it' : 'ends before it'} at seq ${differs.seq}`, {
          details: { seq: differs.seq, archivedHash: differs.hash, localHash: local.find((l) => l.seq === differs.seq)?.hash ?? null },
        });
      }
    } catch (err) {
      const e = asFlaggateError(err);
      check.ok = false;
      check.failure = { code: e.code, message: e.message, details: e.details };
    }
    checks.push(check);
  }
  return checks;
}

async function checkSegment(source: Pick<SegmentSource, 'rowsAfter' | 'hashAt'>, store: ArchiveStore, record: ArchiveRecord): Promise<void> {
  if (record.bucket !== store.bucket) {
    throw new FlaggateError('ARCHIVE_MISSING', `segment ${record.key} was archived to bucket ${record.bucket}, not ${store.bucket}`, { details: { recordedBucket: record.bucket } });
  }
  const segment = parseSegment(await checkArchived(store, { key: record.key, versionId: record.version_id, sha256: record.sha256, retainUntil: new Date(record.retain_until) }));
  const localPrev = record.from_seq === 1 ? '0'.repeat(64) : source.hashAt(record.from_seq - 1);
  if (segment.prev_hash !== localPrev) {
    throw new FlaggateError('ARCHIVE_MISMATCH', `segment ${record.key} links to ${segment.prev_hash}; the local entry ${record.from_seq - 1} hashes to ${localPrev ?? 'nothing'}`, {
      details: { seq: record.from_seq - 1, archived: segment.prev_hash, local: localPrev ?? null },
    });
  }
  const local = source.rowsAfter(record.from_seq - 1, record.to_seq - record.from_seq + 1);
  for (let i = 0; i < Math.max(local.length, segment.rows.length); i += 1) {
    const a = segment.rows[i];
    const l = local[i];
    if (!a || !l || a.seq !== l.seq || a.hash !== l.hash || a.body !== l.body || a.prev_hash !== l.prev_hash) {
      const at = a?.seq ?? l?.seq ?? record.from_seq + i;
      throw new FlaggateError('ARCHIVE_MISMATCH', `the local chain differs from the archive at seq ${at} (segment ${record.key})`, {
        details: { seq: at, archivedHash: a?.hash ?? null, localHash: l?.hash ?? null },
      });
    }
  }
}
