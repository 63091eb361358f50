/**
 * Reads the state a mapped change starts from: each state route, filled with the change's flag,
 * environment and project, read with the sidecar's credential; a pointer keeps the part that matters.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { fetchState } from '../request/index.js';
import { atPointer, PLATFORM } from './classify.js';
import type { RestMapping, StateRead } from './mapping.js';
import { fillRoute } from './route.js';

export interface RestReadOptions {
  baseUrl: string;
  /** The credential header's value (credentialFormat filled with the token). */
  credential: string;
  timeoutMs: number;
}

/** `exists` says whether the first state read found the flag; `state` is what it read (several reads: by name). */
export interface RestState {
  exists: boolean;
  state?: unknown;
}

export async function readRestState(mapping: RestMapping, opts: RestReadOptions, change: FlagChange): Promise<RestState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not a mapped REST change: ${change.platform}`);
  const params = { flag: change.flagKey, ...(change.environment === undefined ? {} : { environment: change.environment }), ...(change.project === undefined ? {} : { project: change.project }) };
  const parts: Record<string, unknown> = {};
  let exists = false;
  for (const [i, read] of mapping.state.entries()) {
    const path = fillRoute(read.route, params);
    // A service of one's own has no common "not there" body: any 404 from a state route means the flag is absent.
    const body = await fetchState(
      { platform: 'the REST service', baseUrl: opts.baseUrl, authorization: opts.credential, credentialHeader: mapping.credentialHeader, timeoutMs: opts.timeoutMs, isNotFound: () => true },
      path,
    );
    if (i === 0) exists = body !== undefined;
    if (body !== undefined && read.keyPointer !== undefined) sameFlag(body, read, path, change.flagKey);
    let value: unknown = body ?? null;
    if (body !== undefined && read.pointer !== undefined) {
      value = atPointer(body, read.pointer);
      if (value === undefined) throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `${path} has nothing at ${read.pointer}`, { details: { path, pointer: read.pointer } });
    }
    parts[read.name] = value;
  }
  if (!exists) return { exists: false };
  return { exists: true, state: mapping.state.length === 1 ? parts[mapping.state[0]!.name] : parts };
}

/**
 * A service that finds `CHECKOUT` when asked for `checkout` (a case-insensitive collation, a slug
 * normalized on the way in) would apply the change to a flag the entry does not name: its answer
 * must name the flag asked for, exactly, where `keyPointer` says it does.
 */
function sameFlag(body: unknown, read: StateRead, path: string, flagKey: string): void {
  const named = atPointer(body, read.keyPointer!);
  if (named === flagKey) return;
  throw new FlaggateError('ADAPT_TARGET_MISMATCH', `${path} answered for ${typeof named === 'string' ? `flag ${JSON.stringify(named.slice(0, 256))}` : `no flag at ${read.keyPointer!}`}, not ${JSON.stringify(flagKey)}: the service reads this key as another flag`, {
    details: { path, keyPointer: read.keyPointer!, flagKey, named: typeof named === 'string' ? named.slice(0, 256) : null },
  });
}
