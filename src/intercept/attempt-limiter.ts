import type { Clock } from '../clock.js';

/**
 * A token bucket: `take()` is true at most `perSecond` times a second on average, with bursts up to
 * `burst`. Bounds how much of the ledger anonymous traffic (writes with bad tokens) can claim.
 */
export function createAttemptLimiter(o: { perSecond: number; burst: number; clock: Clock }): { take(): boolean } {
  let tokens = o.burst;
  let last = o.clock.monotonic();
  return {
    take() {
      const now = o.clock.monotonic();
      tokens = Math.min(o.burst, tokens + ((now - last) / 1000) * o.perSecond);
      last = now;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}
