import type { AuditEntry, NewEntry } from './entry.js';

/** Where the recorder commits, covers and replicates; injected, so audit imports no later stage. */
export interface RecorderDeps {
  /** Commits one entry (possibly in a group with concurrent ones); durable on resolve. `soon`: it may wait for the next group (`GroupCommit`). */
  commit(entry: NewEntry, soon: boolean): Promise<AuditEntry>;
  /** Called after every commit: metrics, checkpoints. */
  afterCommit(entry: AuditEntry): void;
  /** RFC 3161 coverage now (resolves when a token covers `seq`), or soon (batched, never awaited). */
  cover(seq: number, hash: string): Promise<void>;
  coverSoon(seq: number, hash: string): void;
  /** Resolves once every required sink acknowledged entries through `seq`. */
  replicateThrough(seq: number): Promise<void>;
  /** Delivers to every sink up to the head shortly (with the next change's delivery, or after a short delay), without waiting; never throws. */
  replicateSoon(): void;
  /** A refusal or outcome that is local but not upstream yet: worth a warning, not a failure. */
  onNotUpstream(entry: AuditEntry, err: unknown): void;
}

/** The one way entries reach the ledger, in the durability order ARCHITECTURE.md fixes. */
export interface Recorder {
  /** Committed to disk; nothing more. */
  append(entry: NewEntry): Promise<AuditEntry>;
  /** Committed, covered by a timestamp token and acknowledged upstream: what may precede a forward. Throws otherwise. */
  durable(entry: NewEntry): Promise<AuditEntry>;
  /** Covers and replicates an entry already committed (the tail of `durable`). Throws on failure. */
  secure(entry: AuditEntry): Promise<void>;
  /**
   * Committed, then covered and replicated as soon as possible: for entries that forward nothing
   * (refusals, outcomes), whose reply must not fail on a sink that is down. By default the caller
   * waits for the sinks (a failure is only logged); with `upstream: 'soon'` the entry is delivered
   * shortly, with the next change's delivery if one comes first, and the caller does not wait; with `upstream: false` the sinks receive the entry when they next drain.
   */
  settled(entry: NewEntry, options?: SettleOptions): Promise<AuditEntry>;
  /** `settled` for an entry already committed. */
  settle(entry: AuditEntry, options?: SettleOptions): Promise<void>;
}

export interface SettleOptions {
  upstream?: boolean | 'soon';
  /** `soon`: committed with the next group, or shortly (an outcome whose reply does not wait for it). */
  commit?: 'soon';
}

export function createRecorder(deps: RecorderDeps): Recorder {
  const append = async (entry: NewEntry, soon = false): Promise<AuditEntry> => {
    const committed = await deps.commit(entry, soon);
    deps.afterCommit(committed);
    return committed;
  };
  const secure = async (entry: AuditEntry): Promise<void> => {
    await deps.cover(entry.seq, entry.hash);
    await deps.replicateThrough(entry.seq);
  };
  const settle = async (entry: AuditEntry, options?: SettleOptions): Promise<void> => {
    deps.coverSoon(entry.seq, entry.hash);
    if (options?.upstream === false) return;
    if (options?.upstream === 'soon') return deps.replicateSoon();
    try {
      await deps.replicateThrough(entry.seq);
    } catch (err) {
      deps.onNotUpstream(entry, err);
    }
  };
  return {
    append,
    secure,
    async durable(entry) {
      const committed = await append(entry);
      await secure(committed);
      return committed;
    },
    settle,
    async settled(entry, options) {
      const committed = await append(entry, options?.commit === 'soon');
      await settle(committed, options);
      return committed;
    },
  };
}
