import { FlaggateError } from '../../errors.js';
import type { FlagChange, PlatformAdapter, PlatformPlugin, SettledAs } from '../platform.js';
import { isDeepStrictEqual } from 'node:util';
import { classifyFlagdRequest } from './classify.js';
import { readFlagFile, removeStaleTempFiles, requireWritableBack } from './flag-file.js';
import { createFlagdFileForwarder } from './forward.js';
import { seedFlagFile } from './seed.js';

export { flagdSchemaUrl, readFlagFile, writeFlagFileAtomic, type FlagDefinition, type FlagFile } from './flag-file.js';

/** The adapter for a flagd flag-definition file; the file holds one environment. */
export function createFlagdAdapter(options: { path: string; environment: string }): PlatformAdapter {
  return {
    name: 'flagd',
    classify: (req) => classifyFlagdRequest(req, options.environment),
    settled: settledFlagd,
    async readState(change) {
      try {
        const file = readFlagFile(options.path);
        // A change is applied by writing the file again: one that cannot be is refused before the decision.
        requireWritableBack(options.path, file);
        return file.flags[change.flagKey] ?? null;
      } catch (cause) {
        // What is wrong with the file (not JSON, a number it cannot write back) is the operator's to fix.
        const why = cause instanceof Error && !('code' in cause) ? `: ${cause.message.slice(0, 300)}` : '';
        throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `cannot read the flag file ${options.path}${why}`, { cause });
      }
    },
  };
}
export { seedFlagFile } from './seed.js';
export { createFlagdFileForwarder } from './forward.js';

/**
 * A flagd flag-definition file behind flaggate's change API: flagd reads the file, flaggate is its
 * only writer. `targetUrl` is the file's path (default `flags.flagd.json` in the data directory).
 */
export const flagdPlugin: PlatformPlugin = {
  name: 'flagd',
  check: () => [],
  resolve: (settings, inDataDir) => ({ ...settings, targetUrl: inDataDir(settings.targetUrl ?? 'flags.flagd.json') }),
  seed: (settings) => {
    const stale = removeStaleTempFiles(settings.targetUrl!);
    const notes = [stale > 0 ? `removed ${stale} temp file(s) a stopped writer left beside ${settings.targetUrl}` : undefined, seedFlagFile(settings.targetUrl!) ? `created the example flag file ${settings.targetUrl}` : undefined];
    return notes.filter((n) => n !== undefined).join('; ') || undefined;
  },
  async create(settings) {
    const path = settings.targetUrl!;
    return { ...createFlagdAdapter({ path, environment: settings.environment }), forward: createFlagdFileForwarder({ path }) };
  },
};

/** Whether a flagd change shows in the file's current flag (`null` when the flag is absent). */
function settledFlagd(change: FlagChange, current: unknown): SettledAs {
  const flag = current as { state?: string } | null;
  const before = change.previousState ?? null;
  if (isDeepStrictEqual(before, change.newState ?? null)) return 'applied'; // a no-op either way
  switch (change.action) {
    case 'flag.enable':
    case 'flag.disable': {
      const want = (change.newState as { state: string }).state;
      if (flag === null) return 'unknown';
      return flag.state === want ? 'applied' : 'not_applied';
    }
    case 'flag.delete':
      return flag === null ? 'applied' : 'not_applied';
    case 'flag.create':
    case 'flag.update':
      if (isDeepStrictEqual(flag, change.newState)) return 'applied';
      return isDeepStrictEqual(flag, before) ? 'not_applied' : 'unknown';
    default:
      return 'unknown';
  }
}
