/** The Flagsmith adapter: its admin API writes as FlagChanges, and state read back from Flagsmith. */
import { isDeepStrictEqual } from 'node:util';
import type { FlagChange, PlatformAdapter, SettledAs } from '../platform.js';
import { classifyFlagsmith, FLAGSMITH_DEFAULT_LIMITS, isObject, PLATFORM, type FlagsmithLimits } from './classify.js';
import { requireOwnFeature } from './own-feature.js';
import { readFlagsmithState, type FlagsmithState } from './read-state.js';

export { ALL_ENVIRONMENTS, classifyFlagsmith, FLAGSMITH_DEFAULT_LIMITS, type FlagsmithLimits } from './classify.js';
export { readFlagsmithState, type FlagsmithState } from './read-state.js';
export { writeRoutes } from './routes.js';

export interface FlagsmithAdapterOptions {
  /** Flagsmith's base URL, e.g. `http://127.0.0.1:8000` (the API is under its `/api/`). */
  baseUrl: string;
  /** The whole Authorization value: `Api-Key <organisation key>` or `Token <user token>`. */
  authorization: string;
  timeoutMs?: number;
  /** What the deployment sets that decides how it stores a request (Flagsmith's defaults when unset). */
  limits?: FlagsmithLimits;
}

/** Creates the adapter; throws TypeError on a base URL that is not http(s). */
export function createFlagsmithAdapter(opts: FlagsmithAdapterOptions): PlatformAdapter {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`Flagsmith base URL must be http(s): ${opts.baseUrl}`);
  if (base.search || base.hash) throw new TypeError('Flagsmith base URL must not carry a query or fragment');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive integer');
  const limits = opts.limits ?? FLAGSMITH_DEFAULT_LIMITS;
  const readOpts = { baseUrl: opts.baseUrl, authorization: opts.authorization, timeoutMs };
  return {
    name: PLATFORM,
    classify: (req) => classifyFlagsmith(req, limits),
    readState: (change) => readFlagsmithState(readOpts, change),
    settled: settledFlagsmith,
    reach(change, previousState) {
      requireOwnFeature(change, previousState);
      return undefined;
    },
  };
}

/**
 * Whether a Flagsmith change shows in the state read now: creation and deletion by existence,
 * enabling and disabling by the feature state's `enabled`; anything else by comparison with the
 * state seen before (unchanged: not applied; changed: unknown, since others write too).
 */
export function settledFlagsmith(change: FlagChange, current: unknown): SettledAs {
  const now = current as FlagsmithState;
  const before = change.previousState as FlagsmithState | undefined;
  if (change.action === 'flag.create') return now.exists ? 'applied' : 'not_applied';
  if (change.action.endsWith('.delete')) return now.exists ? 'not_applied' : 'applied';
  if (change.action === 'flag.enable' || change.action === 'flag.disable') {
    const enabled = isObject(now.target) ? now.target.enabled : undefined;
    if (typeof enabled !== 'boolean') return 'unknown';
    return enabled === (change.action === 'flag.enable') ? 'applied' : 'not_applied';
  }
  return before && isDeepStrictEqual(now, before) ? 'not_applied' : 'unknown';
}
