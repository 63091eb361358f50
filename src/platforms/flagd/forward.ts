import { canonicalJson } from '../../audit/index.js';
import { FlaggateError } from '../../errors.js';
import type { DecidedRequest, FlagChange, Forward, PlatformResponse } from '../platform.js';
import { readFlagFile, writeFlagFileAtomic, type FlagDefinition } from './flag-file.js';

/**
 * The "platform" behind the flagd adapter: applies allowed changes to the flag file, one at a
 * time, each as an atomic replace; serves reads from the file. Each change is applied only if the
 * flag is still in the `previousState` its decision was made on (compare-and-set inside the
 * serialized section); otherwise it throws FORWARD_CONFLICT and the file is left as it is.
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
  const file = readFlagFile(path);
  const current = file.flags[change.flagKey];
  // What is decided is what is applied: a decision on "from A to B" is not applied to a flag that
  // another change (a concurrent request, an approval, an edit behind flaggate) has since moved
  // on from A, or the update would be lost and the entry's previous_state would be false.
  if (canonicalJson(current ?? null) !== canonicalJson(change.previousState ?? null)) {
    throw new FlaggateError('FORWARD_CONFLICT', `${change.flagKey} changed since the decision was made; it was not applied, request it again`, {
      details: { flagKey: change.flagKey },
    });
  }
  switch (change.action) {
    case 'flag.create':
      if (current) return json(409, { message: `flag ${change.flagKey} already exists` });
      file.flags[change.flagKey] = change.newState as FlagDefinition;
      break;
    case 'flag.update':
      if (!current) return json(404, { message: `flag ${change.flagKey} not found` });
      file.flags[change.flagKey] = change.newState as FlagDefinition;
      break;
    case 'flag.enable':
    case 'flag.disable':
      if (!current) return json(404, { message: `flag ${change.flagKey} not found` });
      file.flags[change.flagKey] = { ...current, state: change.action === 'flag.enable' ? 'ENABLED' : 'DISABLED' };
      break;
    case 'flag.delete':
      if (!current) return json(404, { message: `flag ${change.flagKey} not found` });
      delete file.flags[change.flagKey];
      writeFlagFileAtomic(path, file);
      return { status: 204, headers: {}, body: Buffer.alloc(0) };
    default:
      throw new TypeError(`flagd file: unsupported action ${change.action}`);
  }
  writeFlagFileAtomic(path, file);
  return json(change.action === 'flag.create' ? 201 : 200, file.flags[change.flagKey]);
}

function json(status: number, value: unknown): PlatformResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: Buffer.from(JSON.stringify(value)) };
}
