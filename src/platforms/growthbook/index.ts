/** The GrowthBook adapter: REST API feature writes as FlagChanges, and feature state read back. */
import { isDeepStrictEqual } from 'node:util';
import type { FlagChange, PlatformAdapter, SettledAs } from '../platform.js';
import { classifyGrowthBook, PLATFORM } from './classify.js';
import { growthBookReach } from './reach.js';
import { readGrowthBookState, type GrowthBookFeatureState } from './read-state.js';

export { ALL_ENVIRONMENTS, classifyGrowthBook } from './classify.js';
export { readGrowthBookState, type GrowthBookFeatureState } from './read-state.js';

export interface GrowthBookAdapterOptions {
  /** e.g. `https://api.growthbook.io` or a self-hosted API host (the REST API is under its `/api/`). */
  baseUrl: string;
  /** A secret key (`secret_…`), sent as `Authorization: Bearer <key>`. */
  token: string;
  timeoutMs?: number;
}

/** Creates the adapter; throws TypeError on a base URL that is not http(s). */
export function createGrowthBookAdapter(opts: GrowthBookAdapterOptions): PlatformAdapter {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`GrowthBook base URL must be http(s): ${opts.baseUrl}`);
  if (base.search || base.hash) throw new TypeError('GrowthBook base URL must not carry a query or fragment');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new TypeError('timeoutMs must be a positive integer');
  const readOpts = { baseUrl: opts.baseUrl, token: opts.token, timeoutMs };
  return { name: PLATFORM, classify: classifyGrowthBook, readState: (change) => readGrowthBookState(readOpts, change), settled: settledGrowthBook, reach: growthBookReach };
}

/**
 * Whether a change shows in the state read now: creation and deletion by existence, archiving by
 * `archived`, toggles by each environment's `enabled`; anything else by comparison with the state
 * seen before (unchanged: not applied; changed: unknown, since others write too).
 */
export function settledGrowthBook(change: FlagChange, current: unknown): SettledAs {
  const now = current as GrowthBookFeatureState;
  const before = change.previousState as GrowthBookFeatureState | undefined;
  switch (change.action) {
    case 'flag.create':
      return now.exists ? 'applied' : 'not_applied';
    case 'flag.delete':
      return now.exists ? 'not_applied' : 'applied';
    case 'flag.archive':
    case 'flag.revive':
      return now.exists && now.archived === (change.action === 'flag.archive') ? 'applied' : 'not_applied';
    case 'flag.enable':
    case 'flag.disable': {
      const names = change.environments ?? [];
      const states = names.map((env) => now.environments?.[env]?.enabled);
      if (names.length === 0 || states.some((s) => s === undefined)) return 'unknown';
      return states.every((s) => s === (change.action === 'flag.enable')) ? 'applied' : 'not_applied';
    }
    default:
      return before && isDeepStrictEqual(now, before) ? 'not_applied' : 'unknown';
  }
}
