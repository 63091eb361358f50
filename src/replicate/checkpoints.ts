import type { Checkpoint } from '../audit/checkpoint.js';
import type { Logger } from '../log.js';
import type { Sink } from './sink.js';

/** What publishing needs from the ledger: its checkpoints and a durable cursor per sink. */
export interface CheckpointSource {
  checkpoints(fromSeq?: number): Checkpoint[];
  sinkCursor(name: string): number;
  setSinkCursor(name: string, seq: number): void;
}

/**
 * Sends every checkpoint a sink has not yet stored, in order, from a cursor kept in the ledger
 * (`<sink>#checkpoints`); a sink that was down receives the ones it missed on the next publish.
 */
export function createCheckpointPublisher(deps: { source: CheckpointSource; sinks: Sink[]; logger: Logger }): { publish(): Promise<void> } {
  let queue: Promise<void> = Promise.resolve();
  const publishTo = async (sink: Sink & Required<Pick<Sink, 'deliverCheckpoints'>>) => {
    const cursor = `${sink.name}#checkpoints`;
    const pending = deps.source.checkpoints(deps.source.sinkCursor(cursor) + 1);
    if (pending.length === 0) return;
    await sink.deliverCheckpoints(pending);
    deps.source.setSinkCursor(cursor, pending[pending.length - 1]!.seq);
  };
  return {
    publish() {
      queue = queue.then(async () => {
        for (const sink of deps.sinks) {
          if (!sink.deliverCheckpoints) continue;
          await publishTo(sink as Sink & Required<Pick<Sink, 'deliverCheckpoints'>>).catch((err: unknown) =>
            deps.logger.warn('checkpoints not yet upstream', { sink: sink.name, error: String(err) }),
          );
        }
      });
      return queue;
    },
  };
}
