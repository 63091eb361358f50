import type { Checkpoint } from '../audit/index.js';
import type { AuditEntry } from '../audit/index.js';
import type { TrustedHead } from '../audit/index.js';

/** Who wrote an upstream row, as far as the sink can tell. */
export interface UpstreamWriter {
  hash: string;
  /** The database role that inserted it (null when the store does not record one). */
  role: string | null;
  /** The chains that role is registered to write. */
  chains: string[];
  /** The chain the row's own body names. */
  claimedChain: string | null;
}

/** What the replicator knows of a delivery that a sink may use to choose how to write it. */
export interface DeliveryHint {
  /**
   * Exactly one change waits on the upstream, and no other sink it waits for blocks the event loop:
   * this sink alone, or this local sink beside network sinks that send at once (`Sink.sendsAtOnce`),
   * whose requests are sent before its delivery starts. A write that blocks the event loop then holds up no other change and no other
   * sink's delivery (it runs during their round trips), and saves the thread pool's round trip.
   */
  alone: boolean;
}

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
  /**
   * Its delivery is a write to this machine's disk, not a network round trip: told `alone` beside
   * network sinks that send at once, it may write on the event loop while they wait for their answers.
   */
  readonly local?: boolean;
  /**
   * Its delivery writes its request to an open connection before `deliver` first waits (a pooled
   * connection's query), so a local sink's write a turn of the event loop later overlaps its round
   * trip. A sink whose client writes later (fetch queues the request) leaves it unset: beside it
   * the local write stays on the thread pool.
   */
  readonly sendsAtOnce?: boolean;
  deliver(entries: AuditEntry[], hint?: DeliveryHint): Promise<number>;
  /** Stores signed checkpoints (idempotent by chain and seq), so a signed head lives off this machine. */
  deliverCheckpoints?(checkpoints: Checkpoint[]): Promise<void>;
  /**
   * Stores policy bundles that were in force on `chainId` (idempotent by digest), so a replay can
   * find them when the data dir is lost; only sinks that keep bundles have it.
   */
  deliverBundles?(chainId: string, bundles: ReadonlyArray<{ sha256: string; bytes: Buffer }>): Promise<void>;
  /** What the sink holds for a chain, when it can tell (null: nothing yet). */
  head?(chainId: string): Promise<TrustedHead | null>;
  /** Who wrote the upstream row at `seq` of a chain, to name the other writer when copies diverge. */
  writerOf?(chainId: string, seq: number): Promise<UpstreamWriter | null>;
  /** The newest checkpoint the sink holds for a chain, as stored (its signature unchecked). */
  latestCheckpoint?(chainId: string): Promise<Checkpoint | null>;
  close(): Promise<void>;
}
