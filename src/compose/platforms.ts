/**
 * The platforms one sidecar fronts (the single `platform`, or each item of `platforms`), each
 * opened by its plug-in and named by its id, and the lookups the stages beside the pipeline need:
 * in-doubt reconciliation, approvals and drift act on the platform a change names.
 */
import { createHash } from 'node:crypto';
import type { Config, PlatformRoute } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import { namedPlatform, platformPlugin, type FlagChange, type Platform, type SettledAs } from '../platforms/index.js';

export interface OpenedPlatform {
  route: PlatformRoute;
  /** The running platform, named by `route.id`. */
  platform: Platform;
}

export interface Platforms {
  readonly list: readonly OpenedPlatform[];
  get(id: string): OpenedPlatform | undefined;
  /** The state of the flag a change names, read from the platform the change was made on. */
  readState(change: FlagChange): Promise<unknown>;
  settled(change: FlagChange, current: unknown): SettledAs;
  /** SHA-256 (hex) of a platform's target: held changes are bound to it. */
  targetSha256(id: string): string | undefined;
}

/** Seeds (first run) and creates every configured platform, in the configured order. */
export async function openPlatforms(config: Readonly<Config>, logger: Logger): Promise<Platforms> {
  const list: OpenedPlatform[] = [];
  for (const route of config.platforms) {
    const plugin = platformPlugin(route.name);
    const seeded = plugin.seed?.(route);
    if (seeded) logger.info(seeded);
    list.push({ route, platform: namedPlatform(await plugin.create(route), route.id) });
  }
  const byId = new Map(list.map((p) => [p.route.id, p]));
  const platformOf = (change: FlagChange): Platform => {
    const opened = byId.get(change.platform);
    if (!opened) throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `no platform named ${change.platform} is configured here`);
    return opened.platform;
  };
  return {
    list,
    get: (id) => byId.get(id),
    readState: (change) => platformOf(change).readState(change),
    settled: (change, current) => (byId.has(change.platform) ? platformOf(change).settled(change, current) : 'unknown'),
    targetSha256: (id) => {
      const opened = byId.get(id);
      return opened && createHash('sha256').update(opened.route.targetUrl ?? '', 'utf8').digest('hex');
    },
  };
}
