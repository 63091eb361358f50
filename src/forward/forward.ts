import type { DecidedRequest, FlagChange, PlatformResponse } from '../adapters/adapter.js';

/**
 * Sends an allowed request on to the platform (or applies it, for file-backed platforms). The
 * request is the one the adapter rebuilt from what it classified, never the client's bytes;
 * `change` is absent for reads.
 */
export type Forward = (request: DecidedRequest, change?: FlagChange) => Promise<PlatformResponse>;
