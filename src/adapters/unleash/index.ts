/** The Unleash adapter: its admin API writes as FlagChanges, and flag state read back from Unleash. */
import type { PlatformAdapter } from '../adapter.js';
import { classifyUnleash, PLATFORM } from './classify.js';
import { readUnleashState, type ReadStateOptions } from './read-state.js';

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
  };
}
