import type { AuditEntry } from '../audit/entry.js';

/**
 * An upstream copy of the ledger. `deliver` receives entries in seq order, possibly including
 * some it already holds (at-least-once), and must ignore those; it resolves with the highest seq
 * it now holds durably.
 */
export interface Sink {
  readonly name: string;
  /** A required sink must acknowledge an entry before its change is forwarded. */
  readonly required: boolean;
  deliver(entries: AuditEntry[]): Promise<number>;
  close(): Promise<void>;
}
