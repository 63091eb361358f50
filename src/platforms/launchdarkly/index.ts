/** The LaunchDarkly adapter: REST API v2 flag writes as FlagChanges, and flag state read back. */
import { isDeepStrictEqual } from 'node:util';
import { withDependents } from '../dependents.js';
import type { FlagChange, PlatformAdapter, SettledAs } from '../platform.js';
import { classifyLaunchDarkly, PLATFORM } from './classify.js';
import { readLaunchDarklyState, type LaunchDarklyFlagState } from './read-state.js';

export { ALL_ENVIRONMENTS, classifyLaunchDarkly, SEMANTIC_PATCH_TYPE } from './classify.js';
export { readLaunchDarklyState, type LaunchDarklyFlagState } from './read-state.js';

export interface LaunchDarklyAdapterOptions {
  /** e.g. `https://app.launchdarkly.com` (the API is under its `/api/v2/`). */
  baseUrl: string;
  /** An access token (`api-…`), sent bare in Authorization as LaunchDarkly expects. */
  token: string;
  timeoutMs?: number;
}

export function createLaunchDarklyAdapter(opts: LaunchDarklyAdapterOptions): PlatformAdapter {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`LaunchDarkly base URL must be http(s): ${opts.baseUrl}`);
  if (base.search || base.hash) throw new TypeError('LaunchDarkly base URL must not carry a query or fragment');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive integer');
  const readOpts = { baseUrl: opts.baseUrl, token: opts.token, timeoutMs };
  return { name: PLATFORM, classify: classifyLaunchDarkly, readState: (change) => readLaunchDarklyState(readOpts, change), settled: settledLaunchDarkly, reach: launchDarklyReach };
}

/** A change reaches the flags that name its flag as a prerequisite, in the environments it alters (`../dependents.ts`). */
export function launchDarklyReach(change: FlagChange, previousState: unknown): Pick<FlagChange, 'flags'> | undefined {
  const dependents = (previousState as LaunchDarklyFlagState | undefined)?.dependents ?? [];
  const environments = change.environments ?? (change.environment === undefined ? [] : [change.environment]);
  const flags = withDependents(change, environments, dependents.map((d) => ({ flagKey: d.key, environments: d.environments })));
  return flags ? { flags } : undefined;
}

/**
 * Whether a change shows in the state read now: creation and deletion by existence, archiving by
 * `archived`, turning on and off by the environment's `on`; anything else by comparison with the
 * state seen before (unchanged: not applied; changed: unknown, since others write too).
 */
export function settledLaunchDarkly(change: FlagChange, current: unknown): SettledAs {
  const now = current as LaunchDarklyFlagState;
  const before = change.previousState as LaunchDarklyFlagState | undefined;
  switch (change.action) {
    case 'flag.create':
      return now.exists ? 'applied' : 'not_applied';
    case 'flag.delete':
      return now.exists ? 'not_applied' : 'applied';
    case 'flag.archive':
      return now.archived === true ? 'applied' : 'not_applied';
    case 'flag.enable':
    case 'flag.disable': {
      const on = change.environment ? now.environments?.[change.environment]?.on : undefined;
      if (on === undefined) return 'unknown';
      return on === (change.action === 'flag.enable') ? 'applied' : 'not_applied';
    }
    default:
      return before && isDeepStrictEqual(now, before) ? 'not_applied' : 'unknown';
  }
}
