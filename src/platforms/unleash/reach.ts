/**
 * The reach of a segment or context field change: every strategy that uses it, read from Unleash
 * before the decision, so the change lists each flag and environment whose targeting it alters (its
 * blast radius) and the policy can hold it when a critical flag is among them. The strategies read
 * are the change's previous state: a held change whose reach has moved since is stale.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange, FlagTarget } from '../platform.js';
import { isObject } from './body.js';
import { ALL_ENVIRONMENTS } from './classify.js';
import { withChildren } from './dependents.js';
import { getJson, type ReadStateOptions } from './read-state.js';

export const REACH_ACTIONS = /^(segment|context)\./;

/** One strategy that uses the segment or context field. */
export interface ReachStrategy {
  id: string;
  flagKey: string;
  project: string;
  environment: string;
}

export interface ReachState {
  /** Whether the segment or context field exists before the change. */
  exists: boolean;
  /** Its definition as Unleash holds it (constraints, legal values…). */
  definition?: unknown;
  /** Every strategy using it, sorted by flag, environment, id. */
  strategies: ReachStrategy[];
  /** For a context field: the segments whose constraints name it (their strategies are in `strategies`). */
  segments?: number[];
  /**
   * The flags that depend on a reached flag (Unleash's `children`), by reached flag: a child is
   * enabled only where its parent is, so what a parent serves there reaches it too (see dependents.ts).
   */
  children?: Record<string, string[]>;
}

/** Reads the segment's or context field's definition and every strategy using it. */
export async function readReachState(opts: ReadStateOptions, change: FlagChange): Promise<ReachState> {
  const [kind, name] = splitKey(change.flagKey);
  // A new segment has an id only once created: no strategy can use it yet.
  if (change.action === 'segment.create') return { exists: false, strategies: [] };
  if (kind === 'segment') {
    const definition = await getJson(opts, `/api/admin/segments/${encodeURIComponent(name)}`);
    if (definition === undefined) return { exists: false, strategies: [] };
    return withChildrenRead(opts, { exists: true, definition, strategies: sorted(await segmentStrategies(opts, name)) });
  }
  const definition = await getJson(opts, `/api/admin/context/${encodeURIComponent(name)}`);
  const direct = await strategiesAt(opts, `/api/admin/context/${encodeURIComponent(name)}/strategies`);
  // Unleash lists the strategies whose own constraints name the field; those using it through a
  // segment's constraints are found from the segments.
  const segments = await segmentsNaming(opts, name);
  const viaSegments = (await Promise.all(segments.map((id) => segmentStrategies(opts, String(id))))).flat();
  const state: ReachState = { exists: definition !== undefined, strategies: sorted([...direct, ...viaSegments]), segments };
  if (definition !== undefined) state.definition = definition;
  return withChildrenRead(opts, state);
}

/** The state with the children of each flag its strategies belong to, where there are any. */
async function withChildrenRead(opts: ReadStateOptions, state: ReachState): Promise<ReachState> {
  const flags = new Map(state.strategies.map((s) => [`${s.project}\u0000${s.flagKey}`, s]));
  const children: Record<string, string[]> = {};
  for (const { project, flagKey } of flags.values()) {
    const body = await getJson(opts, `/api/admin/projects/${encodeURIComponent(project)}/features/${encodeURIComponent(flagKey)}`);
    const list = isObject(body) && Array.isArray(body.children) ? body.children : [];
    if (list.some((c) => typeof c !== 'string')) throw unavailable(`unexpected children of ${flagKey}`);
    if (list.length > 0) children[flagKey] = [...(list as string[])].sort();
  }
  return Object.keys(children).length === 0 ? state : { ...state, children };
}

/**
 * The flags and environments the change alters, from its reach: each flag with the environments of
 * its strategies that use the segment or field; `environments` their union.
 */
export function reachOf(change: FlagChange, previousState: unknown): Pick<FlagChange, 'flags' | 'environments' | 'environment'> | undefined {
  if (!REACH_ACTIONS.test(change.action)) return undefined;
  const strategies = isObject(previousState) && Array.isArray(previousState.strategies) ? (previousState.strategies as ReachStrategy[]) : [];
  const byFlag = new Map<string, FlagTarget>();
  for (const s of strategies) {
    const key = `${s.project}\u0000${s.flagKey}`;
    const target = byFlag.get(key) ?? { flagKey: s.flagKey, project: s.project, environments: [] };
    if (!target.environments.includes(s.environment)) target.environments.push(s.environment);
    byFlag.set(key, target);
  }
  // A reached flag's children are reached where it is (a child serves only where its parent does).
  const children = isObject(previousState) && isObject(previousState.children) ? (previousState.children as Record<string, string[]>) : {};
  const reached = [...byFlag.values()];
  const withDependents = withChildren(reached, (flagKey) => children[flagKey] ?? []) ?? reached;
  const flags = withDependents.map((f) => ({ ...f, environments: [...f.environments].sort() }));
  const environments = [...new Set(flags.flatMap((f) => f.environments))].sort();
  const reach: Pick<FlagChange, 'flags' | 'environments' | 'environment'> = { flags, environments };
  if (environments.length > 0) reach.environment = environments.length === 1 ? environments[0]! : ALL_ENVIRONMENTS;
  return reach;
}

function splitKey(flagKey: string): ['segment' | 'context', string] {
  const i = flagKey.indexOf(':');
  const kind = flagKey.slice(0, i);
  if (kind !== 'segment' && kind !== 'context') throw new TypeError(`not a segment or context field change: ${flagKey}`);
  return [kind, flagKey.slice(i + 1)];
}

function segmentStrategies(opts: ReadStateOptions, id: string): Promise<ReachStrategy[]> {
  return strategiesAt(opts, `/api/admin/segments/${encodeURIComponent(id)}/strategies`);
}

async function strategiesAt(opts: ReadStateOptions, path: string): Promise<ReachStrategy[]> {
  const body = await getJson(opts, path);
  if (body === undefined) return [];
  if (!isObject(body) || !Array.isArray(body.strategies)) throw unavailable(`unexpected strategies body from ${path}`);
  return (body.strategies as unknown[]).map((s) => {
    if (!isObject(s) || typeof s.featureName !== 'string' || typeof s.projectId !== 'string' || typeof s.environment !== 'string') {
      throw unavailable(`unexpected strategy in ${path}`);
    }
    return { id: String(s.id), flagKey: s.featureName, project: s.projectId, environment: s.environment };
  });
}

async function segmentsNaming(opts: ReadStateOptions, field: string): Promise<number[]> {
  const body = await getJson(opts, '/api/admin/segments');
  if (!isObject(body) || !Array.isArray(body.segments)) throw unavailable('unexpected body from /api/admin/segments');
  const ids: number[] = [];
  for (const segment of body.segments as unknown[]) {
    if (!isObject(segment) || typeof segment.id !== 'number' || !Array.isArray(segment.constraints)) throw unavailable('unexpected segment in /api/admin/segments');
    if (segment.constraints.some((c: unknown) => isObject(c) && c.contextName === field)) ids.push(segment.id);
  }
  return ids.sort((a, b) => a - b);
}

function sorted(strategies: ReachStrategy[]): ReachStrategy[] {
  const seen = new Map(strategies.map((s) => [`${s.id}\u0000${s.environment}`, s]));
  const key = (s: ReachStrategy): string => `${s.project}\u0000${s.flagKey}\u0000${s.environment}\u0000${s.id}`;
  return [...seen.values()].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

function unavailable(message: string): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message);
}
