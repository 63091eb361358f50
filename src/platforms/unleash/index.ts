import { isDeepStrictEqual } from 'node:util';
/** The Unleash adapter: its admin API writes as FlagChanges, and flag state read back from Unleash. */
import type { FlagChange, PlatformAdapter, SettledAs } from '../platform.js';
import { classifyUnleash, PLATFORM } from './classify.js';
import { dependentsReach } from './dependents.js';
import { importReach } from './import-state.js';
import { requireOwnTargets } from './own-targets.js';
import { reachOf } from './reach.js';
import { readUnleashState, type BatchState, type ReadStateOptions, type UnleashFlagState } from './read-state.js';

export { ALL_ENVIRONMENTS, classifyUnleash } from './classify.js';
export { readUnleashState } from './read-state.js';
export type { UnleashEnvironmentState, UnleashFlagState, UnleashStrategyState } from './read-state.js';
export { writeRoutes } from './routes.js';

export interface UnleashAdapterOptions {
  /** Unleash's base URL, e.g. `http://127.0.0.1:4242` (with its base path, if any). */
  baseUrl: string;
  /** An admin API token, sent as the raw `Authorization` header as Unleash expects. */
  token: string;
  /** Per state read. */
  timeoutMs?: number;
}

/** Creates the adapter; throws TypeError on a base URL that is not http(s). */
export function createUnleashAdapter(opts: UnleashAdapterOptions): PlatformAdapter {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') {
    throw new TypeError(`Unleash base URL must be http(s): ${opts.baseUrl}`);
  }
  if (base.search || base.hash) throw new TypeError('Unleash base URL must not carry a query or fragment');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive integer');
  const readOpts: ReadStateOptions = { baseUrl: opts.baseUrl, token: opts.token, timeoutMs };
  return {
    name: PLATFORM,
    classify: classifyUnleash,
    readState: (change) => readUnleashState(readOpts, change),
    settled: settledUnleash,
    reach(change, previousState) {
      requireOwnTargets(change, previousState);
      // An import reaches its flags' children as any change of those flags does.
      const imported = importReach(change, previousState);
      if (imported) return { ...imported, ...dependentsReach({ ...change, ...imported }, previousState) };
      return reachOf(change, previousState) ?? dependentsReach(change, previousState);
    },
  };
}

/**
 * Whether an Unleash change shows in the state read now. Enabling and disabling are judged by the
 * environment's `enabled`; archive and delete by existence; anything else by comparison with the
 * state seen before the change (unchanged → not applied; changed → unknown, since others write too).
 */
function settledUnleash(change: FlagChange, current: unknown): SettledAs {
  if (change.flags !== undefined && isBatch(current)) return settledBatch(change, current);
  const now = current as UnleashFlagState;
  const before = change.previousState as UnleashFlagState | undefined;
  const env = change.environment && change.environment !== '*' ? change.environment : undefined;
  switch (change.action) {
    case 'flag.enable':
    case 'flag.disable': {
      const enabled = env ? now.environments?.[env]?.enabled : undefined;
      if (enabled === undefined) return 'unknown';
      return enabled === (change.action === 'flag.enable') ? 'applied' : 'not_applied';
    }
    case 'flag.archive':
      return !now.exists ? 'applied' : 'not_applied';
    default:
      return before && isDeepStrictEqual(now, before) ? 'not_applied' : 'unknown';
  }
}

function isBatch(state: unknown): state is BatchState {
  return typeof state === 'object' && state !== null && 'flags' in state && !('strategies' in state);
}

/** A batch is applied when every flag shows it, not applied when none does; anything else is unknown. */
function settledBatch(change: FlagChange, current: BatchState): SettledAs {
  const before = isBatch(change.previousState) ? change.previousState.flags : {};
  const each = (change.flags ?? []).map((f) => {
    const now = current.flags[f.flagKey];
    if (now === undefined) return 'unknown';
    return settledUnleash({ ...change, flags: undefined, flagKey: f.flagKey, previousState: before[f.flagKey] }, now);
  });
  if (each.length > 0 && each.every((s) => s === 'applied')) return 'applied';
  if (each.length > 0 && each.every((s) => s === 'not_applied')) return 'not_applied';
  return 'unknown';
}
