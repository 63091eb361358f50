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

/** A lock a change holds: exclusive, or shared with other changes holding it shared. */
export interface LockKey {
  key: string;
  shared: boolean;
}

/**
 * The lock keys of a change: every flag it alters, in one order, so two batches cannot wait on each
 * other. A key by id (`feature:12`, `feature-state:7`: Flagsmith reaches one feature by several
 * routes and ids; `segment:3`, `context:region`: Unleash objects many flags use) may name the same
 * flag as another such key, or reach flags only the state read shows: all of a platform's share one
 * lock, held exclusive, as by a change marked `exclusive`. Every other change holds that lock
 * shared, so none runs while such a change reads its reach and applies it (a strategy given a
 * segment meanwhile would be missing from it).
 */
export function flagLockKeys(change: FlagChange): LockKey[] {
  const common = flagLockKey(change.platform, ':');
  const keys = new Set([change.flagKey, ...(change.flags ?? []).map((f) => f.flagKey)].map((k) => flagLockKey(change.platform, k)));
  const exclusive = keys.has(common) || change.exclusive === true;
  keys.add(common);
  return [...keys].sort().map((key) => ({ key, shared: key === common && !exclusive }));
}

/** One flag's lock key: by name, or, for a key by id, the one every such key of the platform shares. */
export function flagLockKey(platform: string, flagKey: string): string {
  return `${platform}\u0000${flagKey.includes(':') ? '*' : flagKey}`;
}
