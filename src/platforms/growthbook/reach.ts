/**
 * The environments a GrowthBook write reaches beyond those its body names, from the organization's
 * environments read before the decision (`environmentTree`):
 * - rules written for an environment are written for every environment that inherits from it
 *   (`parent`, transitively: GrowthBook applies them there too), and a toggle of a parent leaves a
 *   child that inherited its rules with settings of its own, no longer inheriting;
 * - a new feature is enabled in every environment whose `defaultState` is on, unless the body turns
 *   it off there, and serves its default value there;
 * - rules written for a feature served beyond its project (`targetingProjects`,
 *   `targetingAllProjects`) reach every environment that serves it: GrowthBook scopes a rule by the
 *   environments its primary project applies to, and one covering all of them is stored for all
 *   environments, so it is also served where an environment limited to a targeting project serves
 *   the feature. Every such environment is taken, rather than GrowthBook's rule merging followed.
 * Pure, so a held change re-derived from its stored state reaches what it reached.
 */
import type { FlagChange } from '../platform.js';
import { withDependents } from '../dependents.js';
import type { GrowthBookDependent } from './dependents.js';
import { isJsonObject } from '../request/index.js';
import { ALL_ENVIRONMENTS } from './classify.js';
import { refuseRetypedValues } from './stored-values.js';
import type { EnvironmentTree } from './read-state.js';

/** Which projects a feature is served to, beyond the environments its own project applies to. */
export interface FeatureScope {
  project?: string;
  targetingProjects?: string[];
  targetingAllProjects?: boolean;
}

/** The environments `change` alters, given the tree (its own when the tree adds none). */
export function reachedEnvironments(change: FlagChange, tree: EnvironmentTree | undefined, scope: FeatureScope = {}): string[] {
  const named = change.environments ?? (change.environment === undefined ? [] : [change.environment]);
  if (tree === undefined || named.includes(ALL_ENVIRONMENTS)) return named;
  const reached = new Set(named);
  if (writesRules(change) && servedBeyondProject(scope)) {
    for (const [id, e] of Object.entries(tree)) if (serves(e.projects, scope)) reached.add(id);
  }
  if (change.action === 'flag.create') {
    const asked = isJsonObject(change.newState) && isJsonObject(change.newState.environments) ? change.newState.environments : {};
    for (const [id, e] of Object.entries(tree)) {
      const settings = asked[id];
      if (e.defaultState && !(isJsonObject(settings) && settings.enabled === false)) reached.add(id);
    }
  }
  // Descendants, to any depth; a cycle (which GrowthBook refuses) cannot loop here.
  for (let grew = true; grew; ) {
    grew = false;
    for (const [id, e] of Object.entries(tree)) {
      if (e.parent !== undefined && reached.has(e.parent) && !reached.has(id)) {
        reached.add(id);
        grew = true;
      }
    }
  }
  return [...reached].sort();
}

/**
 * The feature's scope before the change, widened by what the change sets (`project`,
 * `targetingProjects`, `targetingAllProjects` in the same body as the rules): the rules are served
 * under the scope they leave, and a scope the change narrows still served them until it did.
 */
export function scopeWith(change: FlagChange, before: FeatureScope): FeatureScope {
  const next = isJsonObject(change.newState) ? change.newState : {};
  // A feature moved to another project is still served where the old one was until the change, as
  // a targeting project is. A new feature's project (none before) is its own, not a second one.
  const moved = typeof next.project === 'string' && typeof before.project === 'string' && next.project !== before.project ? [next.project] : [];
  const targeting = [...new Set([...(before.targetingProjects ?? []), ...stringsIn(next.targetingProjects), ...moved])];
  return {
    ...(before.project !== undefined ? { project: before.project } : {}),
    ...(targeting.length > 0 ? { targetingProjects: targeting } : {}),
    ...(before.targetingAllProjects === true || next.targetingAllProjects === true ? { targetingAllProjects: true } : {}),
  };
}

/** The strings of a list GrowthBook sends (project ids), anything else left out. */
export function stringsIn(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function writesRules(change: FlagChange): boolean {
  const environments = isJsonObject(change.newState) ? change.newState.environments : undefined;
  return isJsonObject(environments) && Object.values(environments).some((settings) => isJsonObject(settings) && settings.rules !== undefined);
}

function servedBeyondProject(scope: FeatureScope): boolean {
  return scope.targetingAllProjects === true || (scope.targetingProjects ?? []).length > 0;
}

/** Whether an environment limited to `projects` (none: every project) serves the feature. */
function serves(projects: string[] | undefined, scope: FeatureScope): boolean {
  if (projects === undefined || projects.length === 0 || scope.targetingAllProjects === true) return true;
  return projects.some((p) => p === scope.project || (scope.targetingProjects ?? []).includes(p));
}

/**
 * The adapter's `reach`: the change's environments widened as above, and its features widened to
 * those that depend on it there (dependents.ts), when either widens.
 */
export function growthBookReach(change: FlagChange, previousState: unknown): Pick<FlagChange, 'flags' | 'environments' | 'environment'> | undefined {
  // An update's values are held to the feature's type as the state read names it.
  if (change.action !== 'flag.create' && isJsonObject(previousState)) refuseRetypedValues(change.newState, previousState.valueType);
  const tree = isJsonObject(previousState) && isJsonObject(previousState.environmentTree) ? (previousState.environmentTree as EnvironmentTree) : undefined;
  const named = change.environments ?? [];
  const reached = reachedEnvironments(change, tree, scopeWith(change, isJsonObject(previousState) ? (previousState as FeatureScope) : {}));
  const dependents = isJsonObject(previousState) && Array.isArray(previousState.dependents) ? (previousState.dependents as GrowthBookDependent[]) : [];
  const flags = withDependents(change, reached, dependents.map((d) => ({ flagKey: d.id, environments: d.environments })));
  const widened = !(reached.length === new Set(named).size && reached.every((e) => named.includes(e)));
  if (!widened && flags === undefined) return undefined;
  return { environments: reached, environment: reached.length === 1 ? reached[0]! : ALL_ENVIRONMENTS, ...(flags ? { flags } : {}) };
}
