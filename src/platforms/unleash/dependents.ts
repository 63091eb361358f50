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
  const flags = withChildren(targets, (flagKey) => (states[flagKey] as UnleashFlagState | undefined)?.children ?? []);
  return flags ? { flags } : undefined;
}

/**
 * `targets` with the children of each (from `childrenOf`) after them, each child with its parent's
 * environments (a flag already listed gains those it lacks); undefined when that adds nothing.
 */
export function withChildren(targets: readonly FlagTarget[], childrenOf: (flagKey: string) => readonly string[]): FlagTarget[] | undefined {
  const byKey = new Map(targets.map((t) => [keyOf(t.project, t.flagKey), { ...t, environments: [...t.environments] }]));
  let grew = false;
  for (const parent of targets) {
    for (const child of childrenOf(parent.flagKey)) {
      const key = keyOf(parent.project, child);
      const target = byKey.get(key) ?? { flagKey: child, ...(parent.project === undefined ? {} : { project: parent.project }), environments: [] };
      byKey.set(key, target);
      for (const env of parent.environments) {
        if (target.environments.includes(env)) continue;
        target.environments.push(env);
        grew = true;
      }
    }
  }
  return grew ? [...byKey.values()] : undefined;
}

const keyOf = (project: string | undefined, flagKey: string) => `${project ?? ''}\u0000${flagKey}`;
