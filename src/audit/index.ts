export { openLedger, type Ledger } from './ledger.js';
export { rowToEntry } from './row-to-entry.js';
export { verifyChain, type Census, type ReadRows, type TrustedHead, type VerifyReport, type VerifyOptions, type ProveRange, type ChainFailure, type FailureKind } from './verify.js';
export {
  firstFailure,
  coverageFailureKind,
  DEFAULT_CLOCK_SKEW_SECONDS,
  DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS,
  type CoverageSummary,
  type UpstreamSummary,
} from './verdict.js';
export { entryTimesFrom } from './entry-times.js';
export { openKeyring, type Keyring } from './keyring.js';
export { signCheckpoint, verifyCheckpoint, type Checkpoint, type CheckpointClaims } from './checkpoint.js';
export { signJson, verifyJson } from './signed-json.js';
export { canonicalJson } from './canonical.js';
export { namesAKeyTwice } from './duplicate-keys.js';
export { canonicalEntry, storedBody } from './entry-text.js';
export { chainHash } from './hash-entry.js';
export { GENESIS_HASH, type AuditEntry, type AuditEntryBody, type BreakGlassFacts, type NewEntry, type StoredRow, type EntryType, type OutcomeStatus } from './entry.js';
export { openLedgerReader, readLedgerMeta, type LedgerReader } from './sqlite-reader.js';
export { proveInWorkers, provePostgresInWorkers, proveInWorker, type ParallelOptions } from './prove-in-workers.js';
export { createCheckpointer, type Checkpointer } from './checkpointer.js';
export { verifyLedger, type LedgerVerifyReport } from './verify-ledger.js';
export { sealExport, writeExportFiles, type ExportBody, type ExportSource } from './export.js';
export { archiveExportInWorker, writeExportInWorker, type ExportJob } from './export-in-worker.js';
export { verifyExport, type ExportVerifyReport, type VerifyTokens } from './verify-export.js';
export type { ExportFilters, ExportManifest } from './export-format.js';
export { reconcileInDoubt } from './in-doubt.js';
export { createGroupCommit, type GroupCommit } from './group-commit.js';
export { createRecorder, type Recorder, type RecorderDeps } from './recorder.js';
export { readKeys } from './read-keys.js';
export { boundedRefusal, changeFields, decisionEntry, entryActor, linkedArtifacts, outcomeEntry, refusalSummaryEntry } from './new-entry.js';
export { policyActivatedEntry, type BundleDelivery, type PolicyActivation } from './policy-activated.js';
export { searchLedgerFile, OUTCOME_FILTERS, type EntrySearch, type EntryPage, type FoundRows } from './search-entries.js';
export { openEntrySearcher, type EntrySearcher } from './search-aside.js';
export { fileLines, jsonLines } from './file-lines.js';
