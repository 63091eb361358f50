/**
 * The flags a change reaches through Unleash's feature dependencies. A child flag is enabled only
 * where its parent is enabled (and, when it names variants, serves one of them), so whatever
 * changes what the parent serves in an environment (on, off, strategies, variants, archiving)
 * changes what each child serves there. The children come with the parent's state read before the
 * decision (`children`); the change then lists the parent and each child with the parent's
 * environments, and the policy judges every one of them (a critical child holds the change).
 * Pure, so a held change re-derived from its stored state reaches what it reached.
 */
import type { FlagChange, FlagTarget } from '../platform.js';
import { isObject } from './body.js';
import type { UnleashFlagState } from './read-state.js';

type Reach = Pick<FlagChange, 'flags' | 'environments' | 'environment'>;

/** The change widened to the children of the flags it alters; undefined when none has children. */
export function dependentsReach(change: FlagChange, previousState: unknown): Reach | undefined {
  if (!isObject(previousState)) return undefined;
  const targets = change.flags ?? [{ flagKey: change.flagKey, ...(change.project === undefined ? {} : { project: change.project }), environments: change.environments ?? [] }];
  const states = change.flags === undefined ? { [change.flagKey]: previousState } : isObject(previousState.flags) ? previousState.flags : {};
  const named = new Set(targets.map((t) => t.flagKey));
  const children: FlagTarget[] = [];
  for (const target of targets) {
    if (target.environments.length === 0) continue;
    const state = states[target.flagKey] as UnleashFlagState | undefined;
    for (const child of state?.children ?? []) {
      if (named.has(child)) continue;
      named.add(child);
      children.push({ flagKey: child, ...(target.project === undefined ? {} : { project: target.project }), environments: target.environments });
    }
  }
  if (children.length === 0) return undefined;
  return { flags: [...targets, ...children] };
}
