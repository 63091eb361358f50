/** Any REST flag service, governed by a mapping in the configuration file (`platform.rest`). */
import { isDeepStrictEqual } from 'node:util';
import type { FlagChange, PlatformAdapter, SettledAs } from '../platform.js';
import { classifyRest, PLATFORM } from './classify.js';
import type { RestMapping } from './mapping.js';
import { readRestState, type RestState } from './read-state.js';

export { classifyRest } from './classify.js';
export { compileMapping, mappingIssues, type RestMapping } from './mapping.js';
export { readRestState, type RestState } from './read-state.js';

export interface RestAdapterOptions {
  baseUrl: string;
  mapping: RestMapping;
  /** The credential header's whole value. */
  credential: string;
  timeoutMs?: number;
}

export function createRestAdapter(opts: RestAdapterOptions): PlatformAdapter {
  const base = new URL(opts.baseUrl);
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new TypeError(`REST base URL must be http(s): ${opts.baseUrl}`);
  if (base.search || base.hash) throw new TypeError('REST base URL must not carry a query or fragment');
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const readOpts = { baseUrl: opts.baseUrl, credential: opts.credential, timeoutMs };
  return {
    name: PLATFORM,
    classify: (req) => classifyRest(opts.mapping, req),
    readState: (change) => readRestState(opts.mapping, readOpts, change),
    settled: settledRest,
  };
}

/**
 * Creation and deletion settle by existence (`flag.create`, `flag.delete`); anything else by
 * comparison with the state seen before: unchanged is not applied, changed is unknown (others write too).
 */
export function settledRest(change: FlagChange, current: unknown): SettledAs {
  const now = current as RestState;
  if (change.action === 'flag.create') return now.exists ? 'applied' : 'not_applied';
  if (change.action === 'flag.delete') return now.exists ? 'not_applied' : 'applied';
  const before = change.previousState as RestState | undefined;
  return before && isDeepStrictEqual(now, before) ? 'not_applied' : 'unknown';
}
