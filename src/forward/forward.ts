import type { FlagChange, PlatformResponse } from '../adapters/adapter.js';
import type { RawRequest } from '../intercept/raw-request.js';

/**
 * Sends an allowed request on to the platform (or applies it, for file-backed platforms).
 * `change` is absent for reads.
 */
export type Forward = (req: RawRequest, change?: FlagChange) => Promise<PlatformResponse>;
