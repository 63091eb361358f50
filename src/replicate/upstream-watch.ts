import type { UpstreamCheck } from './upstream-check.js';

export interface UpstreamWatch {
  /** Compares again now (one comparison at a time; callers share it). */
  refresh(): Promise<UpstreamCheck[]>;
  /**
   * The latest comparison, refreshed first when older than `maxAgeMs`; a slow upstream is waited
   * for `waitMs` at most, then the previous answer stands, so /readyz never hangs on the database.
   */
  current(): Promise<UpstreamCheck[]>;
}

/**
 * Keeps the comparison of the local chain with its upstream copies fresh for readiness: a copy
 * that diverged (another writer in this chain, or a local chain cut) makes the sidecar not ready.
 * `onDiverged` hears each sink once per divergence, when it starts.
 */
export function createUpstreamWatch(options: {
  check(): Promise<UpstreamCheck[]>;
  now?: () => number;
  maxAgeMs?: number;
  waitMs?: number;
  onDiverged?(check: UpstreamCheck): void;
}): UpstreamWatch {
  const now = options.now ?? Date.now;
  const maxAgeMs = options.maxAgeMs ?? 2_000;
  const waitMs = options.waitMs ?? 1_000;
  let last: UpstreamCheck[] = [];
  let at = Number.NEGATIVE_INFINITY;
  let running: Promise<UpstreamCheck[]> | undefined;
  const diverged = new Set<string>();

  const refresh = (): Promise<UpstreamCheck[]> => {
    running ??= options
      .check()
      .then((checks) => {
        for (const c of checks) {
          if (!c.ok && !diverged.has(c.sink)) {
            diverged.add(c.sink);
            options.onDiverged?.(c);
          } else if (c.ok) diverged.delete(c.sink);
        }
        last = checks;
        at = now();
        return checks;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };

  return {
    refresh,
    async current() {
      if (now() - at <= maxAgeMs) return last;
      let timer: NodeJS.Timeout | undefined;
      const waited = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, waitMs);
        timer.unref();
      });
      await Promise.race([refresh().catch(() => undefined), waited]);
      clearTimeout(timer);
      return last;
    },
  };
}
