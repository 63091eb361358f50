import type { AuditEntry, AuditEntryBody, StoredRow } from './entry.js';

/**
 * The entry a stored row holds: its body with its hash. No verification (that is `verify.ts`'s
 * job); the one place a row's body is read as an entry.
 */
export function rowToEntry(row: Pick<StoredRow, 'body' | 'hash'>): AuditEntry {
  return { ...(JSON.parse(row.body) as AuditEntryBody), hash: row.hash };
}
