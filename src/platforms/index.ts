/** The platforms folder's one door: the contract, the registry, and what other stages need of a platform. */
export type {
  Classification,
  DecidedRequest,
  FlagChange,
  FlagRead,
  FlagTarget,
  Forward,
  Platform,
  PlatformAdapter,
  PlatformPlugin,
  PlatformResponse,
  PlatformSettings,
  SettledAs,
} from './platform.js';
export { flagLockKey, flagLockKeys, withPreviousState, type LockKey } from './with-state.js';
export { platformPlugin, platformPlugins } from './registry.js';
export { namedPlatform } from './named.js';
export { readUnleashState } from './unleash/read-state.js';
