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

const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/** Exactly what `isoUtc` writes: a real instant, to the millisecond, in UTC. Anything else is no time at all. */
export function isIsoUtc(text: unknown): boolean {
  if (typeof text !== 'string' || !ISO_UTC.test(text)) return false;
  const ms = Date.parse(text);
  return !Number.isNaN(ms) && isoUtc(ms) === text;
}
