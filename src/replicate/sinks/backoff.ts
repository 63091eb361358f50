/**
 * Exponential backoff with full jitter: a uniform delay in [0, min(max, base * 2^attempt)), so many
 * retrying clients spread out instead of hammering a recovering service in step.
 */
export function backoffDelay(attempt: number, options: { baseMs: number; maxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
