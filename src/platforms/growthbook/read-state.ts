/**
 * Reads a feature's state from GrowthBook (`GET /api/v1/features/{id}`) and reduces it to what a
 * policy needs: the feature's own fields, and `enabled` and `rules` in each environment the change
 * writes (every environment when it writes them all).
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { fetchState, isJsonObject, type JsonObject } from '../request/index.js';
import { ALL_ENVIRONMENTS, PLATFORM } from './classify.js';
import { dependentsOf, type DependentIndex } from '../dependents.js';
import { indexPrerequisites, type GrowthBookDependent } from './dependents.js';
import { reachedEnvironments, scopeWith, stringsIn, type FeatureScope } from './reach.js';
import { MAX_SAVED_GROUPS, readSavedGroups, type SavedGroupState } from './saved-groups.js';

export interface ReadStateOptions {
  baseUrl: string;
  /** The secret key, sent as `Authorization: Bearer <key>`. */
  token: string;
  timeoutMs: number;
}

export interface GrowthBookEnvironmentState {
  enabled: boolean;
  rules: unknown[];
}

/** The compact state recorded as `previousState`. */
export interface GrowthBookFeatureState {
  exists: boolean;
  id?: string;
  valueType?: string;
  defaultValue?: string;
  archived?: boolean;
  project?: string;
  /** Projects the feature is also served to (see reach.ts); recorded only when it has any. */
  targetingProjects?: string[];
  targetingAllProjects?: boolean;
  prerequisites?: unknown[];
  /** The live revision's number: GrowthBook counts every published change. */
  version?: number;
  environments?: Record<string, GrowthBookEnvironmentState>;
  /**
   * The organization's environments where they change what a write reaches (see reach.ts): each
   * one's `defaultState` for a new feature, and its `parent` when one inherits another's rules.
   */
  environmentTree?: EnvironmentTree;
  /** The features whose serving depends on this one through prerequisites (dependents.ts); recorded only when there are any. */
  dependents?: GrowthBookDependent[];
  /** The other way: the features this one is served through (`prerequisitesServed`); recorded only when there are any. */
  prerequisiteFeatures?: Record<string, PrerequisiteFeature>;
  /** The saved groups its rules in the environments read, or the change, serve through (saved-groups.ts); recorded only when there are any. */
  savedGroups?: Record<string, SavedGroupState>;
}

/** Environment id → what GrowthBook does with it beyond its own settings. */
export type EnvironmentTree = Record<string, { defaultState: boolean; parent?: string; projects?: string[] }>;

/**
 * GrowthBook answers a key it does not know with `400 {"message": "Could not find a feature with
 * that key"}` (its handlers turn thrown errors into 400s); a 404 with such a message is read the same.
 */
const NOT_FOUND = /^could not find (a )?feature/i;

export async function readGrowthBookState(opts: ReadStateOptions, change: FlagChange): Promise<GrowthBookFeatureState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not a GrowthBook change: ${change.platform}`);
  const tree = await readEnvironmentTree(opts);
  // Kept where it matters: a new feature's defaults, or environments that inherit others' rules.
  const kept = change.action === 'flag.create' || Object.values(tree).some((e) => e.parent !== undefined || e.projects !== undefined) ? { environmentTree: tree } : {};
  const path = `/api/v1/features/${encodeURIComponent(change.flagKey)}`;
  const body = await fetchState(
    {
      platform: 'GrowthBook', baseUrl: opts.baseUrl, authorization: `Bearer ${opts.token}`, timeoutMs: opts.timeoutMs,
      notFoundStatuses: [400, 404], isNotFound: (b) => isJsonObject(b) && typeof b.message === 'string' && NOT_FOUND.test(b.message),
    },
    path,
  );
  if (body === undefined) return { exists: false, ...kept };
  const feature = isJsonObject(body) ? body.feature : undefined;
  if (!isJsonObject(feature) || feature.id !== change.flagKey || !isJsonObject(feature.environments)) throw unavailable(`GrowthBook sent an unexpected body for ${path}`);
  const scope = featureScope(feature);
  const wanted = reachedEnvironments(change, tree, scopeWith(change, scope));
  const environments: Record<string, GrowthBookEnvironmentState> = {};
  for (const [name, settings] of Object.entries(feature.environments)) {
    if (!wanted.includes(ALL_ENVIRONMENTS) && !wanted.includes(name)) continue;
    if (!isJsonObject(settings) || typeof settings.enabled !== 'boolean') throw unavailable(`unexpected environment ${name} in ${path}`);
    environments[name] = { enabled: settings.enabled, rules: Array.isArray(settings.rules) ? settings.rules : [] };
  }
  const revision = isJsonObject(feature.revision) ? feature.revision : {};
  // A change that alters no environment (a description, tags) changes what no dependent serves.
  const all = wanted.length > 0 ? await readAllFeatures(opts) : undefined;
  const dependents = all ? dependentsIn(all, change.flagKey) : [];
  const prerequisiteFeatures = all ? prerequisitesServed(all, [{ prerequisites: feature.prerequisites }, ...Object.values(environments), change.newState], wanted) : undefined;
  const tooMany = (n: number) => unavailable(`the change's rules name ${n} saved groups, more than the ${MAX_SAVED_GROUPS} flaggate reads for one change`);
  const savedGroups = wanted.length > 0 ? await readSavedGroups((p) => getSavedGroup(opts, p), [Object.values(environments), change.newState], tooMany) : {};
  return definedOnly({
    exists: true,
    id: feature.id,
    valueType: stringOr(feature.valueType),
    defaultValue: stringOr(feature.defaultValue),
    archived: feature.archived === true,
    project: stringOr(feature.project),
    ...scope,
    prerequisites: Array.isArray(feature.prerequisites) ? feature.prerequisites : [],
    version: typeof revision.version === 'number' ? revision.version : undefined,
    environments,
    ...kept,
    ...(dependents.length > 0 ? { dependents } : {}),
    ...(prerequisiteFeatures && Object.keys(prerequisiteFeatures).length > 0 ? { prerequisiteFeatures } : {}),
    ...(Object.keys(savedGroups).length > 0 ? { savedGroups } : {}),
  });
}

/** A saved group, or undefined when GrowthBook says it has none (its handlers answer that with 400 or 404). */
async function getSavedGroup(opts: ReadStateOptions, path: string): Promise<JsonObject | undefined> {
  const body = await fetchState(
    {
      platform: 'GrowthBook', baseUrl: opts.baseUrl, authorization: `Bearer ${opts.token}`, timeoutMs: opts.timeoutMs,
      notFoundStatuses: [400, 404], isNotFound: (b) => isJsonObject(b) && typeof b.message === 'string' && /^could not find/i.test(b.message),
    },
    path,
  );
  if (body === undefined) return undefined;
  if (!isJsonObject(body) || !isJsonObject(body.savedGroup)) throw unavailable(`GrowthBook sent an unexpected body for ${path}`);
  return body;
}

/** A prerequisite feature as it serves in the environments a change reaches (null: GrowthBook has no such feature). */
export type PrerequisiteFeature = { archived: boolean; valueType: unknown; defaultValue: unknown; version: unknown; environments: Record<string, GrowthBookEnvironmentState> } | null;

/**
 * The features the changed one is served through: its own prerequisites, its rules' (in the
 * environments read) and those the change names, each as it serves in `wanted`. A feature is served
 * only where its prerequisites evaluate as they ask, so one switched while the change is held would
 * change what the change does unseen.
 */
function prerequisitesServed(all: ReadonlyMap<string, JsonObject>, sources: unknown[], wanted: readonly string[]): Record<string, PrerequisiteFeature> {
  const ids = [...new Set(sources.flatMap(prerequisitesNamed))].sort();
  return Object.fromEntries(ids.map((id) => {
    const parent = all.get(id);
    if (!parent) return [id, null];
    const environments: Record<string, GrowthBookEnvironmentState> = {};
    for (const [name, settings] of Object.entries(isJsonObject(parent.environments) ? parent.environments : {})) {
      if (!wanted.includes(ALL_ENVIRONMENTS) && !wanted.includes(name)) continue;
      if (isJsonObject(settings)) environments[name] = { enabled: settings.enabled === true, rules: Array.isArray(settings.rules) ? settings.rules : [] };
    }
    const revision = isJsonObject(parent.revision) ? parent.revision : {};
    return [id, { archived: parent.archived === true, valueType: parent.valueType ?? null, defaultValue: parent.defaultValue ?? null, version: revision.version ?? null, environments }];
  }));
}

/** The feature ids every `prerequisites` list under `value` names (as ids, or as `{id, condition}`). */
function prerequisitesNamed(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(prerequisitesNamed);
  if (!isJsonObject(value)) return [];
  const own = Array.isArray(value.prerequisites) ? value.prerequisites.flatMap((p) => (typeof p === 'string' ? [p] : isJsonObject(p) && typeof p.id === 'string' ? [p.id] : [])) : [];
  return [...own, ...Object.values(value).flatMap(prerequisitesNamed)];
}

/** GrowthBook's largest page of features. */
const PAGE = 100;

/**
 * Every feature whose serving depends on `id`, directly or through a chain of prerequisites:
 * GrowthBook keeps no index of dependents, so each feature's own and its rules' prerequisites are read.
 */
function dependentsIn(all: ReadonlyMap<string, JsonObject>, id: string): GrowthBookDependent[] {
  const index: DependentIndex = new Map();
  for (const feature of all.values()) indexPrerequisites(index, feature);
  return dependentsOf(id, index).map((d) => ({ id: d.flagKey, environments: d.environments }));
}

/** Every feature, by id, from `GET /api/v1/features` a page at a time. */
async function readAllFeatures(opts: ReadStateOptions): Promise<Map<string, JsonObject>> {
  const all = new Map<string, JsonObject>();
  for (let offset = 0; ; ) {
    const path = `/api/v1/features?limit=${PAGE}&offset=${offset}`;
    const body = await fetchState({ platform: 'GrowthBook', baseUrl: opts.baseUrl, authorization: `Bearer ${opts.token}`, timeoutMs: opts.timeoutMs, isNotFound: () => false }, path);
    const page = isJsonObject(body) ? body.features : undefined;
    if (!isJsonObject(body) || !Array.isArray(page) || typeof body.hasMore !== 'boolean') throw unavailable(`GrowthBook sent an unexpected body for ${path}`);
    for (const feature of page) if (isJsonObject(feature) && typeof feature.id === 'string') all.set(feature.id, feature);
    if (!body.hasMore) return all;
    // A page that moves the reading nowhere would loop for ever: GrowthBook's own offset, or refused.
    if (typeof body.nextOffset !== 'number' || body.nextOffset <= offset) throw unavailable(`GrowthBook sent no next page after offset ${offset} for ${path}`);
    offset = body.nextOffset;
  }
}

/** `GET /api/v1/environments`, reduced to what changes a write's reach. */
async function readEnvironmentTree(opts: ReadStateOptions): Promise<EnvironmentTree> {
  const path = '/api/v1/environments';
  const body = await fetchState({ platform: 'GrowthBook', baseUrl: opts.baseUrl, authorization: `Bearer ${opts.token}`, timeoutMs: opts.timeoutMs, isNotFound: () => false }, path);
  const list = isJsonObject(body) ? body.environments : undefined;
  if (!Array.isArray(list)) throw unavailable(`GrowthBook sent an unexpected body for ${path}`);
  const tree: EnvironmentTree = {};
  for (const e of list) {
    if (!isJsonObject(e) || typeof e.id !== 'string' || typeof e.defaultState !== 'boolean') throw unavailable(`unexpected environment in ${path}`);
    const projects = stringsIn(e.projects);
    tree[e.id] = {
      defaultState: e.defaultState,
      ...(typeof e.parent === 'string' && e.parent !== '' ? { parent: e.parent } : {}),
      // Limited to some projects: it serves a feature only of those, or targeted to them.
      ...(projects.length > 0 ? { projects } : {}),
    };
  }
  return tree;
}

/** The projects a feature is served to beyond its own, as GrowthBook sends them; nothing when none. */
function featureScope(feature: JsonObject): FeatureScope {
  const targeting = stringsIn(feature.targetingProjects);
  return {
    ...(typeof feature.project === 'string' ? { project: feature.project } : {}),
    ...(targeting.length > 0 ? { targetingProjects: targeting } : {}),
    ...(feature.targetingAllProjects === true ? { targetingAllProjects: true } : {}),
  };
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** The ledger records JSON: a field GrowthBook leaves out is left out, not recorded as undefined. */
function definedOnly<T extends JsonObject>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function unavailable(message: string): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message);
}
