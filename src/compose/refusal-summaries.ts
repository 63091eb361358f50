import { refusalSummaryEntry, type Recorder } from '../audit/index.js';
import type { createRefusalLimiter } from '../intercept/index.js';
import type { Logger } from '../log.js';
import type { PolicyRevision } from '../policy/index.js';

/**
 * Refusals counted beyond an actor's rate are recorded as one summary entry per actor and window,
 * on a timer and once more (every open window) on stop.
 */
export function recordRefusalSummaries(deps: {
  refusals: ReturnType<typeof createRefusalLimiter>;
  record: Pick<Recorder, 'settled'>;
  platform: string;
  policy: { readonly revision: PolicyRevision };
  logger: Logger;
  windowSeconds: number;
}): { close(): Promise<void> } {
  const drain = async (all: boolean) => {
    for (const summary of deps.refusals.drain(all)) {
      try {
        await deps.record.settled(refusalSummaryEntry({ ...summary, platform: deps.platform, policy: deps.policy.revision }));
      } catch (err) {
        deps.logger.error('refusal summary not recorded', { actor: summary.actor.id, refusals: summary.refusals, error: String(err) });
      }
    }
  };
  const timer = setInterval(() => void drain(false), Math.min(1000, deps.windowSeconds * 1000));
  timer.unref();
  return {
    async close() {
      clearInterval(timer);
      await drain(true);
    },
  };
}
