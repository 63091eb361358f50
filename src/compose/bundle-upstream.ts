import type { Logger } from '../log.js';
import { listArchivedBundles, readArchivedBundle } from '../policy/index.js';
import type { Sink } from '../replicate/index.js';

/** Copies the data dir's bundle archive to every sink that keeps bundles. */
export interface BundleUpstream {
  /** Sends what the sinks do not hold yet; on failure logs it and tries again later. Never throws. */
  sync(): Promise<void>;
  /** Stops retrying and waits for a sync under way. */
  close(): Promise<void>;
}

/**
 * The bundle archive upstream: each bundle ever in force (`<dataDir>/policy-bundles/`) is stored in
 * every sink with `deliverBundles` (PostgreSQL), by digest, at start-up and after each swap, so a
 * replay still finds it when the data dir is lost. A sink that is down is retried every
 * `retryMs`; a bundle is sent to a sink until it took it once. Only bytes that match their digest
 * go upstream.
 */
export function startBundleUpstream(o: { archiveDir: string; chainId: string; sinks: readonly Sink[]; logger: Logger; retryMs?: number }): BundleUpstream {
  const targets = o.sinks.filter((s) => s.deliverBundles !== undefined);
  const held = new Map(targets.map((s) => [s.name, new Set<string>()]));
  let running: Promise<void> = Promise.resolve();
  let retry: NodeJS.Timeout | undefined;
  let closed = false;

  const syncOnce = async () => {
    let failed = false;
    for (const sink of targets) {
      const known = held.get(sink.name)!;
      const missing = [...listArchivedBundles(o.archiveDir).keys()].filter((sha256) => !known.has(sha256));
      const bundles = missing.flatMap((sha256) => {
        const bytes = readArchivedBundle(o.archiveDir, sha256);
        return bytes ? [{ sha256, bytes }] : [];
      });
      if (bundles.length === 0) continue;
      try {
        await sink.deliverBundles!(o.chainId, bundles);
        for (const b of bundles) known.add(b.sha256);
      } catch (err) {
        failed = true;
        o.logger.warn('policy bundles not yet stored upstream; retrying', { sink: sink.name, bundles: bundles.map((b) => b.sha256), error: String(err) });
      }
    }
    if (failed && !closed) {
      clearTimeout(retry);
      retry = setTimeout(() => void sync(), o.retryMs ?? 30_000);
      retry.unref();
    }
  };
  const sync = () => {
    if (closed || targets.length === 0) return running;
    running = running.then(syncOnce);
    return running;
  };
  return {
    sync,
    async close() {
      closed = true;
      clearTimeout(retry);
      await running;
    },
  };
}
