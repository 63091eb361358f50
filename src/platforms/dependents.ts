/**
 * Flags that depend on a changed flag (prerequisites): whatever changes what a flag serves in an
 * environment changes what they serve there. A plug-in reads them with the flag's state; the change
 * then lists the flag and each dependent with the environments it shares with the change, and the
 * policy judges every one (a critical dependent holds the change). Pure, so a held change
 * re-derived from its stored state reaches what it reached.
 */
import type { FlagChange, FlagTarget } from './platform.js';

/** Every environment, as `FlagChange.environments` writes it. */
const EVERY = '*';

/** A flag that depends on the changed one, and where it does (`['*']`: in every environment). */
export interface Dependent {
  flagKey: string;
  environments: string[];
}

/**
 * The change's flags: the flag in `environments` (the change's, as reached), then each dependent
 * in those it shares with them; undefined when no dependent shares one.
 */
export function withDependents(change: FlagChange, environments: readonly string[], dependents: readonly Dependent[]): FlagTarget[] | undefined {
  const target = (flagKey: string, shared: string[]): FlagTarget => ({ flagKey, ...(change.project === undefined ? {} : { project: change.project }), environments: shared });
  const reached = dependents.map((d) => target(d.flagKey, intersection(environments, d.environments))).filter((t) => t.environments.length > 0);
  return reached.length > 0 ? [target(change.flagKey, [...environments]), ...reached] : undefined;
}

/** Direct dependents by the flag they depend on, each edge with where it holds (`['*']`: everywhere). */
export type DependentIndex = Map<string, Dependent[]>;

/** Adds "`flagKey` depends on `on` in `environments`" to `index`, merging with an edge already there. */
export function addDependent(index: DependentIndex, on: string, flagKey: string, environments: readonly string[]): void {
  if (on === flagKey || environments.length === 0) return;
  const edges = index.get(on) ?? [];
  const known = edges.find((d) => d.flagKey === flagKey);
  if (known) known.environments = union(known.environments, environments);
  else edges.push({ flagKey, environments: union([], environments) });
  index.set(on, edges);
}

/**
 * Every flag whose serving depends on `start`, directly or through a chain of prerequisites (a
 * change to A changes B, which changes C), each with the environments where the whole chain
 * holds; sorted by key. A cycle ends where it comes round.
 */
export function dependentsOf(start: string, index: DependentIndex): Dependent[] {
  const reached = new Map<string, string[]>();
  const queue: Dependent[] = [{ flagKey: start, environments: [EVERY] }];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    for (const edge of index.get(next.flagKey) ?? []) {
      if (edge.flagKey === start) continue;
      const environments = intersection(next.environments, edge.environments);
      const known = reached.get(edge.flagKey) ?? [];
      const grown = union(known, environments);
      if (grown.length === known.length && grown.every((e) => known.includes(e))) continue;
      reached.set(edge.flagKey, grown);
      queue.push({ flagKey: edge.flagKey, environments: grown });
    }
  }
  return [...reached].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([flagKey, environments]) => ({ flagKey, environments }));
}

function union(a: readonly string[], b: readonly string[]): string[] {
  if (a.includes(EVERY) || b.includes(EVERY)) return [EVERY];
  return [...new Set([...a, ...b])].sort();
}

function intersection(a: readonly string[], b: readonly string[]): string[] {
  if (a.includes(EVERY)) return [...b];
  if (b.includes(EVERY)) return [...a];
  return a.filter((e) => b.includes(e));
}
