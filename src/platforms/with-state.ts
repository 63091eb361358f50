import type { FlagChange, PlatformAdapter } from './platform.js';

/**
 * The change as decided: with the state it starts from and, for changes whose reach lives on the
 * platform (a segment's or a context field's strategies), the flags and environments read there.
 * Pure, so approvals can rebuild a held change from its request and recorded state and compare.
 */
export function withPreviousState(adapter: Pick<PlatformAdapter, 'reach'>, change: FlagChange, previousState: unknown): FlagChange {
  const reach = adapter.reach?.(change, previousState);
  return { ...change, ...reach, previousState };
}

/**
 * The lock keys of a change: every flag it alters, in one order, so two batches cannot wait on each
 * other. A key by id (`feature:12`, `feature-state:7`: Flagsmith reaches one feature by several
 * routes and ids) may name the same flag as another such key: all of a platform's share one lock.
 */
export function flagLockKeys(change: FlagChange): string[] {
  const keys = new Set([change.flagKey, ...(change.flags ?? []).map((f) => f.flagKey)].map((k) => flagLockKey(change.platform, k)));
  return [...keys].sort();
}

/** One flag's lock key: by name, or, for a key by id, the one every such key of the platform shares. */
export function flagLockKey(platform: string, flagKey: string): string {
  return `${platform}\u0000${flagKey.includes(':') ? '*' : flagKey}`;
}
