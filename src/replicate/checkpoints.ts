import type { Checkpoint } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Sink } from './sink.js';

/** What publishing needs from the ledger: its checkpoints and a durable cursor per sink. */
export interface CheckpointSource {
  checkpoints(fromSeq?: number): Checkpoint[];
  sinkCursor(name: string): number;
  setSinkCursor(name: string, seq: number): void;
}

export interface CheckpointPublisher {
  publish(): Promise<void>;
  /** Sinks that refused a checkpoint as conflicting with one they hold (a fork), until one is stored again. */
  conflicts(): Map<string, FlaggateError>;
}

/**
 * Sends every checkpoint a sink has not yet stored, in order, from a cursor kept in the ledger
 * (`<sink>#checkpoints`); a sink that was down receives the ones it missed on the next publish.
 * A sink holding another checkpoint at the same seq is a fork: reported as an error and kept in
 * `conflicts()` for readiness, and the cursor stays put.
 */
export function createCheckpointPublisher(deps: { source: CheckpointSource; sinks: Sink[]; logger: Logger; onConflict?(sink: string, err: FlaggateError): void }): CheckpointPublisher {
  let queue: Promise<void> = Promise.resolve();
  const conflicts = new Map<string, FlaggateError>();
  const publishTo = async (sink: Sink & Required<Pick<Sink, 'deliverCheckpoints'>>) => {
    const cursor = `${sink.name}#checkpoints`;
    const pending = deps.source.checkpoints(deps.source.sinkCursor(cursor) + 1);
    if (pending.length === 0) return;
    await sink.deliverCheckpoints(pending);
    deps.source.setSinkCursor(cursor, pending[pending.length - 1]!.seq);
    conflicts.delete(sink.name);
  };
  return {
    conflicts: () => conflicts,
    publish() {
      queue = queue.then(async () => {
        for (const sink of deps.sinks) {
          if (!sink.deliverCheckpoints) continue;
          await publishTo(sink as Sink & Required<Pick<Sink, 'deliverCheckpoints'>>).catch((err: unknown) => {
            if (err instanceof FlaggateError && err.code === 'AUDIT_CHAIN_BROKEN') {
              if (!conflicts.has(sink.name)) deps.onConflict?.(sink.name, err);
              conflicts.set(sink.name, err);
              deps.logger.error('upstream holds a conflicting checkpoint for this chain', { sink: sink.name, code: err.code, error: err.message, ...err.details });
            } else {
              deps.logger.warn('checkpoints not yet upstream', { sink: sink.name, error: String(err) });
            }
          });
        }
      });
      return queue;
    },
  };
}
