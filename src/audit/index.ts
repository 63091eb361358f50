export { openLedger, rowToEntry, type Ledger } from './ledger.js';
export { verifyChain, type ReadRows, type TrustedHead, type VerifyReport, type ChainFailure, type FailureKind } from './verify.js';
export { canonicalJson } from './canonical.js';
export { chainHash } from './hash-entry.js';
export { GENESIS_HASH, type AuditEntry, type AuditEntryBody, type NewEntry, type StoredRow, type EntryType, type OutcomeStatus } from './entry.js';
export { openLedgerReader } from './sqlite-reader.js';
