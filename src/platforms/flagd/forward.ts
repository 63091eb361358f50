import { canonicalJson } from '../../audit/index.js';
import { FlaggateError } from '../../errors.js';
import type { DecidedRequest, FlagChange, Forward, PlatformResponse } from '../platform.js';
import { parseFlagFile, readFlagFile, readFlagFileBytes, requireWritableBack, writeFlagFileAtomic, type FlagDefinition } from './flag-file.js';
import { assertFlagdLoads } from './flagd-loads.js';

/**
 * The "platform" behind the flagd adapter: applies allowed changes to the flag file, one at a
 * time, each as an atomic replace; serves reads from the file. Each change is applied only if the
 * flag is still in the `previousState` its decision was made on (compare-and-set inside the
 * serialized section), and only if the file is still the one read when the new one is ready to
 * replace it; otherwise it throws FORWARD_CONFLICT and the file is left as it is. A change
 * whose resulting file flagd would not load throws ADAPT_FLAGD_INVALID, and nothing is written.
 */
export function createFlagdFileForwarder(options: { path: string }): Forward {
  let queue: Promise<unknown> = Promise.resolve();

  const serialized = <T>(work: () => T): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => undefined);
    return next;
  };

  return (req: DecidedRequest, change?: FlagChange) =>
    serialized(() => {
      try {
        return change ? apply(options.path, change) : read(options.path, req);
      } catch (cause) {
        if (cause instanceof FlaggateError) throw cause;
        // The file's path stays in the log (the cause), not in the reply or the entry.
        throw new FlaggateError('FORWARD_FAILED', change ? 'the flag file could not be updated' : 'the flag file could not be read', { cause });
      }
    });
}

function read(path: string, req: DecidedRequest): PlatformResponse {
  const file = readFlagFile(path);
  const key = req.target.split('/').filter(Boolean)[1];
  if (key === undefined) return json(200, { flags: file.flags });
  const flag = file.flags[decodeURIComponent(key)];
  return flag ? json(200, flag) : json(404, { message: `flag ${key} not found` });
}

function apply(path: string, change: FlagChange): PlatformResponse {
  const read = readFlagFileBytes(path);
  const file = parseFlagFile(path, read);
  requireWritableBack(path, file);
  const current = file.flags[change.flagKey];
  // What is decided is what is applied: a decision on "from A to B" is not applied to a flag that
  // another change (a concurrent request, an approval, an edit behind flaggate) has since moved
  // on from A, or the update would be lost and the entry's previous_state would be false.
  if (canonicalJson(current ?? null) !== canonicalJson(change.previousState ?? null)) {
    throw conflict(change, `${change.flagKey} changed since the decision was made; it was not applied, request it again`);
  }
  const refused = missingOrPresent(change, current);
  if (refused) return refused;
  const next = nextFlag(change, current);
  if (next === undefined) delete file.flags[change.flagKey];
  else file.flags[change.flagKey] = next;
  // The whole file as it would be written: a flag is valid only with the file's `$evaluators`.
  assertFlagdLoads(file, { targeting: true });
  // The file is replaced whole: an edit made behind flaggate since it was read (another flag, or
  // this one) would be undone with no entry saying so. Checked again once the new file is on disk,
  // just before the rename; what a writer that takes no part in this does in between stays a race.
  const unchanged = () => {
    const now = readFlagFileBytes(path);
    if (now === undefined ? read !== undefined : read === undefined || !now.equals(read)) {
      throw conflict(change, `the flag file was changed while ${change.flagKey} was being applied; it was not applied, request it again`);
    }
  };
  writeFlagFileAtomic(path, file, { beforeReplace: unchanged });
  if (next === undefined) return { status: 204, headers: {}, body: Buffer.alloc(0) };
  return json(change.action === 'flag.create' ? 201 : 200, next);
}

function conflict(change: FlagChange, message: string): FlaggateError {
  return new FlaggateError('FORWARD_CONFLICT', message, { details: { flagKey: change.flagKey } });
}

/** The platform's own answer when the flag is not there to change, or already there to create. */
function missingOrPresent(change: FlagChange, current: FlagDefinition | undefined): PlatformResponse | undefined {
  if (change.action === 'flag.create') return current ? json(409, { message: `flag ${change.flagKey} already exists` }) : undefined;
  return current ? undefined : json(404, { message: `flag ${change.flagKey} not found` });
}

/** The flag after the change; `undefined` once deleted. */
function nextFlag(change: FlagChange, current: FlagDefinition | undefined): FlagDefinition | undefined {
  switch (change.action) {
    case 'flag.create':
    case 'flag.update':
      return change.newState as FlagDefinition;
    case 'flag.enable':
    case 'flag.disable':
      return { ...current!, state: change.action === 'flag.enable' ? 'ENABLED' : 'DISABLED' };
    case 'flag.delete':
      return undefined;
    default:
      throw new TypeError(`flagd file: unsupported action ${change.action}`);
  }
}

function json(status: number, value: unknown): PlatformResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from(JSON.stringify(value)) };
}
