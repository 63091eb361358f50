import { FlaggateError } from '../../errors.js';
import type { PlatformAdapter } from '../adapter.js';
import { classifyFlagdRequest } from './classify.js';
import { readFlagFile } from './flag-file.js';

export { flagdSchemaUrl, readFlagFile, writeFlagFileAtomic, type FlagDefinition, type FlagFile } from './flag-file.js';

/** The adapter for a flagd flag-definition file; the file holds one environment. */
export function createFlagdAdapter(options: { path: string; environment: string }): PlatformAdapter {
  return {
    name: 'flagd',
    classify: (req) => classifyFlagdRequest(req, options.environment),
    async readState(change) {
      try {
        return readFlagFile(options.path).flags[change.flagKey] ?? null;
      } catch (cause) {
        throw new FlaggateError('ADAPT_STATE_UNAVAILABLE', `cannot read the flag file ${options.path}`, { cause });
      }
    },
  };
}
export { seedFlagFile } from './seed.js';
