/**
 * WORM retention: sealed segments of the ledger (entries, checkpoints, timestamp tokens, the policy
 * bundles they name; closed at a checkpoint) stored in S3-compatible object storage under an Object
 * Lock in COMPLIANCE mode, read back and recorded in the chain (`archive.sealed`); the local chain
 * checked against the archive; the bucket's lock proved with a probe object.
 */
export { archiveLedger, archivedThrough, checkArchived, type ArchiveDeps, type ArchiveRun } from './archive-ledger.js';
export { archiveRecordsIn, archiveSealedEntry, type ArchiveRecord } from './entries.js';
export { parseSegment, sealSegment, type Segment, type SegmentSource, type SealedSegment } from './segment.js';
export { openArchiveStore, type ArchiveStore, type ArchiveStoreOptions, type Refusal, type Retention } from './store.js';
export { verifyArchive, type ArchiveVerifyReport, type SegmentCheck, type ArchiveFailure } from './verify-archive.js';
export { probeArchiveLock, type LockProbe } from './probe-lock.js';
export { archiveLockPath, takeArchiveLock } from './run-lock.js';
