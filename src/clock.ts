/** The only source of time: stages take a Clock so tests can pin it. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** A monotonic reading in milliseconds, for durations only. */
  monotonic(): number;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
};

/** A clock that moves only when told to; for tests. */
export function fixedClock(startMs: number): Clock & { advance(ms: number): void } {
  let t = startMs;
  return {
    now: () => t,
    monotonic: () => t,
    advance(ms: number) {
      t += ms;
    },
  };
}

export function isoUtc(ms: number): string {
  return new Date(ms).toISOString();
}
