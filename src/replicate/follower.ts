import type { AuditEntry } from '../audit/entry.js';
import { FlaggateError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Sink } from './sink.js';

/** What the follower needs from the ledger: the entries after a seq, and a durable cursor per sink. */
export interface ReplicationSource {
  entriesAfter(afterSeq: number, limit: number): AuditEntry[];
  sinkCursor(sink: string): number;
  setSinkCursor(sink: string, seq: number): void;
}

export interface Replicator {
  /** Resolves once every required sink holds every entry up to `seq`; throws REPLICATE_UNACKED. */
  through(seq: number): Promise<void>;
  /** Pushes to best-effort sinks in the background; never throws. */
  nudge(): void;
  acked(): Record<string, number>;
  close(): Promise<void>;
}

const batchSize = 500;

/**
 * Follows the ledger into each sink, in order, from the sink's persisted cursor. Deliveries to one
 * sink are serialized, so concurrent changes share a delivery instead of racing.
 */
export function createReplicator(deps: { source: ReplicationSource; sinks: Sink[]; metrics: Metrics }): Replicator {
  const queues = new Map<string, Promise<number>>();

  const catchUp = (sink: Sink, target: number): Promise<number> => {
    const previous = queues.get(sink.name) ?? Promise.resolve(0);
    const next = previous
      .catch(() => 0)
      .then(async () => {
        let acked = deps.source.sinkCursor(sink.name);
        while (acked < target) {
          const batch = deps.source.entriesAfter(acked, batchSize);
          if (batch.length === 0) break;
          const reached = await sink.deliver(batch);
          if (reached <= acked) throw new Error(`sink ${sink.name} acknowledged nothing past seq ${acked}`);
          deps.source.setSinkCursor(sink.name, reached);
          acked = reached;
        }
        return acked;
      });
    queues.set(sink.name, next);
    return next;
  };

  return {
    async through(seq) {
      const required = deps.sinks.filter((s) => s.required);
      const results = await Promise.allSettled(required.map((s) => catchUp(s, seq)));
      results.forEach((r, i) => {
        if (r.status === 'rejected') deps.metrics.replicateFailures.inc({ sink: required[i]!.name });
      });
      const failed = results.findIndex((r) => r.status === 'rejected' || r.value < seq);
      if (failed !== -1) {
        const r = results[failed]!;
        throw new FlaggateError('REPLICATE_UNACKED', `upstream sink "${required[failed]!.name}" has not acknowledged seq ${seq}`, {
          cause: r.status === 'rejected' ? r.reason : undefined,
          details: { sink: required[failed]!.name, seq },
        });
      }
      this.nudge();
    },
    nudge() {
      for (const sink of deps.sinks.filter((s) => !s.required)) {
        catchUp(sink, Number.MAX_SAFE_INTEGER).catch(() => deps.metrics.replicateFailures.inc({ sink: sink.name }));
      }
    },
    acked() {
      return Object.fromEntries(deps.sinks.map((s) => [s.name, deps.source.sinkCursor(s.name)]));
    },
    async close() {
      await Promise.allSettled([...queues.values()]);
      await Promise.all(deps.sinks.map((s) => s.close()));
    },
  };
}
