import type { Checkpoint } from '../audit/checkpoint.js';
import type { AuditEntry } from '../audit/entry.js';
import type { TrustedHead } from '../audit/verify.js';

/**
 * An upstream copy of the ledger. `deliver` receives entries in seq order, possibly including
 * some it already holds (at-least-once), and must ignore those; it resolves with the highest seq
 * it now holds durably (below the batch when it holds less than the batch assumes: the follower
 * then resends from there).
 */
export interface Sink {
  readonly name: string;
  /** A required sink must acknowledge an entry before its change is forwarded. */
  readonly required: boolean;
  deliver(entries: AuditEntry[]): Promise<number>;
  /** Stores signed checkpoints (idempotent by chain and seq), so a signed head lives off this machine. */
  deliverCheckpoints?(checkpoints: Checkpoint[]): Promise<void>;
  /** What the sink holds for a chain, when it can tell (null: nothing yet). */
  head?(chainId: string): Promise<TrustedHead | null>;
  /** The newest checkpoint the sink holds for a chain, as stored (its signature unchecked). */
  latestCheckpoint?(chainId: string): Promise<Checkpoint | null>;
  close(): Promise<void>;
}
