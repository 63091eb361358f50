import type { Config } from '../config/index.js';
import type { Clock } from '../clock.js';
import { createDriftWatcher, driftProbeFor, type DriftWatcher } from '../drift/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Evidence } from './evidence.js';

/**
 * Drift: changes made on each platform around flaggate, found on an interval and on demand, one
 * watcher per platform that has a probe (each with its own baseline, named by the platform's id).
 * A check runs now when checks are periodic (changes made while stopped are found at once); on
 * demand only, just the first baseline is taken, so that the first check has something to compare.
 */
export async function startDrift(config: Readonly<Config>, evidence: Evidence, deps: { clock: Clock; logger: Logger; metrics: Metrics }): Promise<DriftWatcher | undefined> {
  const watchers: DriftWatcher[] = [];
  for (const route of config.platforms) {
    const probe = driftProbeFor(route);
    if (!probe) continue;
    const drift = createDriftWatcher({
      probe,
      ledger: evidence.ledger,
      append: (e) => evidence.record.append(e),
      ...deps,
      intervalSeconds: config.drift.intervalSeconds,
      skewMs: config.drift.clockSkewSeconds * 1000,
    });
    await (config.drift.intervalSeconds > 0 ? drift.checkNow() : drift.takeBaseline()).catch((err: unknown) =>
      deps.logger.error('the first drift check failed', { platform: route.id, error: String(err) }),
    );
    watchers.push(drift);
  }
  return watchers.length <= 1 ? watchers[0] : allOf(watchers);
}

/**
 * Several watchers as one: a check checks every platform in turn. Findings and acknowledgements
 * are the ledger's, whichever platform they concern, so any one watcher lists and acknowledges them
 * all; the first does, so acknowledgements stay one at a time.
 */
function allOf(watchers: readonly DriftWatcher[]): DriftWatcher {
  const first = watchers[0]!;
  return {
    async checkNow() {
      const recorded = [];
      for (const w of watchers) recorded.push(...(await w.checkNow()));
      return recorded;
    },
    async takeBaseline() {
      for (const w of watchers) await w.takeBaseline();
    },
    findings: () => first.findings(),
    acknowledge: (id, by) => first.acknowledge(id, by),
    async close() {
      await Promise.all(watchers.map((w) => w.close()));
    },
  };
}
