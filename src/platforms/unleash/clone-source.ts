/**
 * What an Unleash clone starts from, read from its source. Unleash 8.2.0's clone
 * (`cloneFeatureToggle`) creates the new flag with the source's type, stale, description and
 * impression data, disabled in every environment; copies each environment's variants and each
 * strategy (parameters, constraints, segments, disabled, title, sort order and strategy variants,
 * under a new id) and the source's dependencies (its parents: the clone is enabled only where they
 * are), not its children; and unless the body's `replaceGroupId` is false, writes the clone's name
 * into every strategy's `groupId` that has one, which moves its users into other buckets. Each copy
 * is created as a new strategy, so a flexible rollout stored without its defaults (a row older than
 * them) gets them (`parametersWithDefaults`): rollout 100, the project's default stickiness, and the
 * clone's name as `groupId` when it has none, whatever `replaceGroupId` says.
 */
import type { FlagChange } from '../platform.js';
import { isObject } from './body.js';
import { projectDefaultStickiness } from './project-overview.js';
import { featurePath, getJson, liveState, strategyState, type ReadStateOptions, type UnleashFlagState, type UnleashStrategyState } from './read-state.js';

export interface CloneOptions {
  /** The clone's own name. */
  name: string;
  replaceGroupId: boolean;
}

/** The clone's name and whether it names itself in its strategies' `groupId`s (Unleash's default unless the body says false). */
export function cloneOptions(change: FlagChange): CloneOptions {
  return { name: change.flagKey, replaceGroupId: !(isObject(change.newState) && change.newState.replaceGroupId === false) };
}

/**
 * The clone's source through the path's project, as the clone is created from it. The strategies
 * keep the source's ids, naming what was copied; the clone's copies get ids of their own.
 */
export async function readCloneSource(opts: ReadStateOptions, project: string, flagKey: string, clone: CloneOptions): Promise<UnleashFlagState> {
  const path = featurePath(project, flagKey, true);
  const body = await getJson(opts, path);
  if (body === undefined) return { exists: false };
  const { children: _notCopied, ...source } = liveState(body, path, true);
  if (!isObject(body)) return source;
  const strategies = strategiesByEnvironment(body);
  const copies = new Map([...strategies].map(([name, list]) => [name, list.map((s) => copiedStrategy(s, clone))]));
  const lacking = [...copies.values()].flat().filter(lacksStickiness);
  if (lacking.length > 0) {
    const stickiness = await projectDefaultStickiness((p) => getJson(opts, p), project);
    for (const copy of lacking) copy.parameters = { ...copy.parameters, stickiness };
  }
  const environments = Object.fromEntries(
    Object.entries(source.environments ?? {}).map(([name, env]) => [name, { ...env, enabled: false, strategies: copies.get(name) ?? [] }]),
  );
  return {
    ...source,
    environments,
    impressionData: body.impressionData === true,
    description: typeof body.description === 'string' ? body.description : null,
    dependencies: Array.isArray(body.dependencies) ? body.dependencies : [],
  };
}

/** Each environment's strategies as the feature body gives them (`liveState` has checked their shape). */
function strategiesByEnvironment(body: Record<string, unknown>): Map<string, unknown[]> {
  const byName = new Map<string, unknown[]>();
  for (const env of Array.isArray(body.environments) ? body.environments : []) {
    if (isObject(env) && typeof env.name === 'string') byName.set(env.name, Array.isArray(env.strategies) ? env.strategies : []);
  }
  return byName;
}

/** A strategy as the clone's copy of it is created. */
function copiedStrategy(raw: unknown, clone: CloneOptions): UnleashStrategyState {
  const copy: UnleashStrategyState = { ...strategyState(raw) };
  // Unleash tests `hasOwnProperty('groupId')` (a flexibleRollout is stored with one: Unleash fills it in).
  if (clone.replaceGroupId && Object.hasOwn(copy.parameters, 'groupId')) copy.parameters = { ...copy.parameters, groupId: clone.name };
  if (copy.name === FLEXIBLE_ROLLOUT) {
    // Unleash's own tests, in its own language: `??` for the rollout, `||` for the group.
    const p = copy.parameters;
    copy.parameters = { ...p, rollout: p.rollout ?? '100', groupId: p.groupId || clone.name };
  }
  return copy;
}

const FLEXIBLE_ROLLOUT = 'flexibleRollout';

/** A flexible rollout whose copy Unleash gives the project's default stickiness (`!stickiness`). */
function lacksStickiness(copy: UnleashStrategyState): boolean {
  return copy.name === FLEXIBLE_ROLLOUT && !copy.parameters.stickiness;
}

