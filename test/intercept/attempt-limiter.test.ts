import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { createAttemptLimiter } from '../../src/intercept/index.js';

describe('createAttemptLimiter', () => {
  it('allows a burst, then the steady rate, never more', () => {
    const clock = fixedClock(0);
    const limiter = createAttemptLimiter({ perSecond: 2, burst: 3, clock });
    expect([1, 2, 3, 4].map(() => limiter.take())).toEqual([true, true, true, false]);
    clock.advance(500);
    expect([limiter.take(), limiter.take()]).toEqual([true, false]);
    clock.advance(10_000);
    expect([1, 2, 3, 4].map(() => limiter.take())).toEqual([true, true, true, false]);
  });
});
