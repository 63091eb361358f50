/**
 * Reads a flag's current state from Unleash (admin API, admin token) and reduces it to what a policy
 * needs. Live flags come from `GET /api/admin/projects/:project/features/:feature`; archived ones
 * (for `flag.delete` and `flag.revive`) from `GET /api/admin/search/features?lifecycle=IS:archived`,
 * since Unleash 8 has no archived-feature read by name.
 */
import { FlaggateError } from '../../errors.js';
import { fetchState } from '../request/index.js';
import type { FlagChange } from '../platform.js';
import { isObject, tagKey } from './body.js';
import { ALL_ENVIRONMENTS, PLATFORM } from './classify.js';
import { cloneOptions, readCloneSource } from './clone-source.js';
import { linksFromTemplates, type TemplateLink } from './link-templates.js';
import { projectDefaultStickiness } from './project-overview.js';
import { variantsAfterPatch } from './patched-variants.js';
import { enableAddsStrategy, strategyAddedOnEnable } from './enable-default.js';
import { isImport, readImportState, type ImportState } from './import-state.js';
import { REACH_ACTIONS, readReachState, type ReachState } from './reach.js';

/** The state a batch starts from: each flag's, by key. */
export interface BatchState {
  flags: Record<string, UnleashFlagState>;
}

export interface UnleashStrategyState {
  id: string;
  name: string;
  parameters: Record<string, unknown>;
  constraints: unknown[];
  segments: unknown[];
  disabled?: boolean;
  title?: string | null;
  sortOrder?: number;
  variants?: unknown[];
}

export interface UnleashEnvironmentState {
  enabled: boolean;
  /** Absent for archived flags: Unleash only reports whether they had strategies. */
  strategies?: UnleashStrategyState[];
  /** Only for variant changes and changes of what the environment serves (see `readsVariants`). */
  variants?: unknown[];
  /** Only for an enable that finds no active strategy: the strategy Unleash adds (`enable-default.ts`). */
  addedOnEnable?: Record<string, unknown>;
  /** Only for a strategy created without a sort order: the one Unleash stores it with (after the last). */
  nextSortOrder?: number;
  /** Only for a flexible rollout written without a stickiness: the project's default, which Unleash gives it. */
  defaultStickiness?: string;
  /** Only for a JSON Patch of the environment's variants: the list Unleash stores once it applies (null: it cannot). */
  storedAfterPatch?: unknown[] | null;
}

/** The compact state recorded as `previousState`. */
export interface UnleashFlagState {
  exists: boolean;
  project?: string;
  name?: string;
  type?: string;
  archived?: boolean;
  stale?: boolean;
  /**
   * When Unleash created the flag: a flag deleted and created again under its name reads the same
   * otherwise, and a change held on the first would be applied to the second.
   */
  createdAt?: string;
  environments?: Record<string, UnleashEnvironmentState>;
  /**
   * The flags that depend on this one (Unleash's `children`), when there are any: a child is
   * enabled only where its parent is, so what changes the parent's evaluation changes theirs.
   */
  children?: string[];
  /** For a new flag, the links its project's link templates give it (`link-templates.ts`). */
  linksFromTemplates?: TemplateLink[];
  /** For a clone, what the new flag starts from (`clone-source.ts`). */
  cloneOf?: UnleashFlagState;
  /** A clone's source only: copied to the clone with its type, stale and description. */
  impressionData?: boolean;
  description?: string | null;
  /** The parts of the flag a change of that kind alters, read only for that kind (see EXTRA_FIELDS). */
  dependencies?: unknown;
  /** For a new dependency: the parent it names, as it serves now (null when the project has no such flag). */
  parent?: UnleashFlagState | null;
  links?: unknown;
  lifecycle?: unknown;
  tags?: unknown[];
  /**
   * For a strategy change that names segments, and a switch-on of strategies that use some: what
   * each does (its name, constraints and project; a segment Unleash does not have is null), so a
   * held change is applied only with the segments as recorded, and the approver sees whom they select.
   */
  segmentsNamed?: Record<string, { name: unknown; constraints: unknown; project: unknown } | null>;
  /** For a change that adds tags: which of their types Unleash has (a tag of another type is refused). */
  tagTypes?: string[];
  /**
   * For a change that adds tags: which of them Unleash's instance-wide tag catalogue holds already.
   * Unleash creates each other one there as it tags the flag.
   */
  catalogued?: Array<{ type: string; value: string }>;
}

export interface ReadStateOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

const ARCHIVE_ACTIONS = new Set(['flag.delete', 'flag.revive']);
const TAG_ACTIONS = new Set(['tag.add', 'tag.update', 'tag.delete']);
/**
 * Changes of what an environment serves: switching it on or off, its strategies, their order, its
 * variants (a bulk toggle is read as each flag's `flag.enable` or `flag.disable`).
 */
const SERVING_ACTIONS = new Set(['flag.enable', 'flag.disable', 'strategy.create', 'strategy.update', 'strategy.delete', 'strategy.reorder', 'variants.update']);
/**
 * Feature fields recorded besides the compact state, for the actions that change them. An archive
 * removes the flag's dependencies on its parents (Unleash's archive deletes them, and a revive does
 * not bring them back), so it records them too. So does a change of what an environment serves:
 * Unleash serves a child only while each parent is enabled (and serves a variant it names), so a
 * held switch-on of a child whose parent is off would serve everyone once the dependency is gone.
 */
const EXTRA_FIELDS: Record<string, 'dependencies' | 'links' | 'lifecycle'> = {
  ...Object.fromEntries([...SERVING_ACTIONS].map((action) => [action, 'dependencies' as const])),
  'flag.archive': 'dependencies',
  'dependency.add': 'dependencies',
  'dependency.delete': 'dependencies',
  'link.create': 'links',
  'link.update': 'links',
  'link.delete': 'links',
  'flag.complete': 'lifecycle',
  'flag.uncomplete': 'lifecycle',
};
const SEARCH_PAGE = 100;
const SEARCH_MAX_PAGES = 20;
// Unleash's message for a route it does not have (as opposed to a feature it does not have).
const UNKNOWN_PATH = 'The path you were looking for';

/** Reads the state `change` starts from; ADAPT_STATE_UNAVAILABLE (cause kept) when Unleash cannot say. */
export async function readUnleashState(opts: ReadStateOptions, change: FlagChange): Promise<UnleashFlagState | BatchState | ReachState | ImportState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not an Unleash change: ${change.platform}`);
  if (REACH_ACTIONS.test(change.action)) return readReachState(opts, change);
  if (isImport(change)) return readImportState(opts, change);
  if (change.flags !== undefined) return readBatchState(opts, change);
  return readFlagState(opts, change);
}

/** A batch starts from each of its flags' states, read one by one (the flags are locked meanwhile). */
async function readBatchState(opts: ReadStateOptions, change: FlagChange): Promise<BatchState> {
  const flags: Record<string, UnleashFlagState> = {};
  for (const target of change.flags ?? []) {
    const { flags: _all, ...one } = change;
    flags[target.flagKey] = await readFlagState(opts, { ...one, flagKey: target.flagKey });
  }
  return { flags };
}

async function readFlagState(opts: ReadStateOptions, change: FlagChange): Promise<UnleashFlagState> {
  if (ARCHIVE_ACTIONS.has(change.action)) return readArchived(opts, change.flagKey);
  if (TAG_ACTIONS.has(change.action)) return readTags(opts, change);
  if (change.project === undefined) throw new TypeError(`${change.action} without a project`);
  const withVariants = readsVariants(change.action);
  const path = featurePath(change.project, change.flagKey, withVariants);
  const body = await getJson(opts, path);
  const source = cloneSourceOf(change);
  if (source !== undefined) {
    const state: UnleashFlagState = body === undefined ? { exists: false } : liveState(body, path, false);
    return withTemplateLinks(opts, change, { ...state, cloneOf: await readCloneSource(opts, change.project, source, cloneOptions(change)) });
  }
  if (body === undefined) return change.action === 'flag.create' ? withTemplateLinks(opts, change, { exists: false }) : { exists: false };
  const state = liveState(body, path, withVariants);
  const extra = EXTRA_FIELDS[change.action];
  if (extra && isObject(body)) state[extra] = body[extra] ?? null;
  const env = change.environment;
  if (env !== undefined && env !== ALL_ENVIRONMENTS && state.environments) {
    const only = state.environments[env];
    state.environments = only ? { [env]: only } : {};
    if (only && enableAddsStrategy(change, only)) only.addedOnEnable = await strategyAddedOnEnable(opts, getJson, change.project, env, change.flagKey);
    if (only && createdWithoutSortOrder(change)) only.nextSortOrder = nextSortOrder(body, env);
    if (only && leavesStickinessToProject(change)) only.defaultStickiness = await projectDefaultStickiness((p) => getJson(opts, p), change.project);
    const patch = change.action === 'variants.update' && isObject(change.newState) && Array.isArray(change.newState.patch) ? change.newState.patch : undefined;
    if (only && patch) only.storedAfterPatch = variantsAfterPatch(only.variants ?? [], patch);
  }
  const segments = [...new Set([...segmentsNamedBy(change), ...segmentsServedBy(change, state), ...segmentsOfTarget(change, state)])].sort();
  if (segments.length > 0) state.segmentsNamed = await readSegmentsNamed(opts, segments);
  const dependency = change.action === 'dependency.add' && isObject(change.newState) ? change.newState : undefined;
  if (typeof dependency?.parent === 'string') {
    const onVariants = Array.isArray(dependency.variants) && dependency.variants.length > 0;
    state.parent = await readParent(opts, change.project, dependency.parent, onVariants);
  }
  return state;
}

/**
 * The parent a new dependency names, as it serves now (every environment, with its strategies, and
 * its environments' variants when the dependency names some): from then on the child serves only
 * where the parent is enabled (and serves one of them), so what the dependency does is what the
 * parent serves. Its other children are left out: another flag's dependency on it changes nothing
 * here. null when the project has no such flag.
 */
async function readParent(opts: ReadStateOptions, project: string, parent: string, withVariants: boolean): Promise<UnleashFlagState | null> {
  const path = featurePath(project, parent, withVariants);
  const body = await getJson(opts, path);
  if (body === undefined) return null;
  const { children: _others, ...served } = liveState(body, path, withVariants);
  return served;
}

/**
 * Whether the state read takes the environments' variants: for a change of them, and for one of
 * what an environment serves, since a strategy without variants of its own serves the
 * environment's. A switch-off serves nothing, whatever they are.
 */
function readsVariants(action: string): boolean {
  return SERVING_ACTIONS.has(action) && action !== 'flag.disable';
}

/**
 * The segments a switch-on starts serving through: those of the environment's strategies and of
 * the strategy Unleash adds. A segment changed while its flags are archived or off reaches none of
 * them (Unleash's reach leaves archived flags out), so the switch-on is where its audience shows.
 */
function segmentsServedBy(change: FlagChange, state: UnleashFlagState): string[] {
  if (change.action !== 'flag.enable' || change.environment === undefined) return [];
  const env = state.environments?.[change.environment];
  const added = isObject(env?.addedOnEnable) && Array.isArray(env.addedOnEnable.segments) ? env.addedOnEnable.segments : [];
  const ids = [...(env?.strategies ?? []).flatMap((s) => s.segments), ...added];
  return ids.filter((id) => typeof id === 'number' || typeof id === 'string').map(String);
}

/**
 * The segments the strategy a change updates or deletes uses now. An update that writes no
 * `segments` keeps them (Unleash replaces a strategy's segments only when the body has a list), so
 * what it serves is who they select; a delete stops serving them. A segment emptied while such a
 * change is held would widen what it does unseen.
 */
function segmentsOfTarget(change: FlagChange, state: UnleashFlagState): string[] {
  if ((change.action !== 'strategy.update' && change.action !== 'strategy.delete') || change.environment === undefined || !isObject(change.newState)) return [];
  const id = change.newState.id;
  const target = state.environments?.[change.environment]?.strategies?.find((s) => s.id === String(id));
  return (target?.segments ?? []).filter((s) => typeof s === 'number' || typeof s === 'string').map(String);
}

/** The segment ids a strategy create or update writes: its body's list, or the list its patch writes. */
function segmentsNamedBy(change: FlagChange): string[] {
  if ((change.action !== 'strategy.create' && change.action !== 'strategy.update') || !isObject(change.newState)) return [];
  const ns = change.newState;
  const lists = Array.isArray(ns.patch) ? ns.patch.filter((op) => isObject(op) && op.path === '/segments' && Array.isArray(op.value)).map((op) => (op as { value: unknown[] }).value) : [ns.segments];
  const ids = lists.flatMap((list) => (Array.isArray(list) ? list : [])).filter((id) => typeof id === 'number' || typeof id === 'string');
  return [...new Set(ids.map(String))].sort();
}

/** Each segment's name, constraints and project (null for one Unleash does not have), by id. */
async function readSegmentsNamed(opts: ReadStateOptions, ids: string[]): Promise<NonNullable<UnleashFlagState['segmentsNamed']>> {
  const out: NonNullable<UnleashFlagState['segmentsNamed']> = {};
  for (const id of ids) {
    const path = `/api/admin/segments/${encodeURIComponent(id)}`;
    const body = await getJson(opts, path);
    if (body !== undefined && !isObject(body)) throw unavailable(`unexpected segment body from ${path}`);
    out[id] = body === undefined ? null : { name: body.name ?? null, constraints: body.constraints ?? [], project: body.project ?? null };
  }
  return out;
}

/** A new flag's state with the links its project's templates give it, where there are any. */
async function withTemplateLinks(opts: ReadStateOptions, change: FlagChange, state: UnleashFlagState): Promise<UnleashFlagState> {
  if (state.exists) return state;
  const links = await linksFromTemplates((p) => getJson(opts, p), change.project!, change.flagKey);
  return links.length === 0 ? state : { ...state, linksFromTemplates: links };
}

/** A flexible rollout written whole (created or updated) without a stickiness: Unleash gives it the project's default. */
function leavesStickinessToProject(change: FlagChange): boolean {
  if ((change.action !== 'strategy.create' && change.action !== 'strategy.update') || !isObject(change.newState)) return false;
  const { name, parameters } = change.newState;
  return name === 'flexibleRollout' && !(isObject(parameters) && parameters.stickiness);
}

/** A strategy create that leaves its place to Unleash: it is stored after the environment's last strategy. */
function createdWithoutSortOrder(change: FlagChange): boolean {
  return change.action === 'strategy.create' && isObject(change.newState) && change.newState.sortOrder === undefined;
}

/** The sort order Unleash gives a strategy created without one: the environment's highest + 1, else 0. */
function nextSortOrder(body: unknown, env: string): number {
  const environments = isObject(body) && Array.isArray(body.environments) ? body.environments : [];
  const here = environments.find((e: unknown) => isObject(e) && e.name === env);
  const orders = (isObject(here) && Array.isArray(here.strategies) ? here.strategies : []).map((s: unknown) => (isObject(s) ? s.sortOrder : undefined));
  const integers = orders.filter((o): o is number => Number.isInteger(o));
  return integers.length > 0 ? Math.max(...integers) + 1 : 0;
}

/** The flag a clone copies, from its new state (`cloneOf`, set from the path by classify). */
function cloneSourceOf(change: FlagChange): string | undefined {
  if (change.action !== 'flag.create' || !isObject(change.newState)) return undefined;
  return typeof change.newState.cloneOf === 'string' ? change.newState.cloneOf : undefined;
}

/**
 * Tag changes name the flag without its project: the state they start from is the flag's tags,
 * and for one that adds tags the tag types there are: Unleash adds each tag on its own, so one of
 * a type that does not exist fails after the others are added (`own-targets.ts` refuses it first).
 */
async function readTags(opts: ReadStateOptions, change: FlagChange): Promise<UnleashFlagState> {
  const path = `/api/admin/features/${encodeURIComponent(change.flagKey)}/tags`;
  const body = await getJson(opts, path);
  if (body === undefined) return { exists: false };
  if (!isObject(body) || !Array.isArray(body.tags)) throw unavailable(`unexpected tags body from ${path}`);
  const state: UnleashFlagState = { exists: true, name: change.flagKey, tags: body.tags };
  if (change.action === 'tag.add' || change.action === 'tag.update') {
    const added = addedTags(change);
    state.tagTypes = await readTagTypes(opts, [...new Set(added.map((t) => t.type))].sort());
    state.catalogued = await readCatalogued(opts, added.filter((t) => state.tagTypes!.includes(t.type)));
  }
  return state;
}

/** The tags a change adds, as its new state lists them. */
function addedTags(change: FlagChange): Array<{ type: string; value: string }> {
  const added = isObject(change.newState) && Array.isArray(change.newState.added) ? change.newState.added : [];
  return added.filter((t: unknown): t is { type: string; value: string } => isObject(t) && typeof t.type === 'string' && typeof t.value === 'string');
}

/**
 * Which of `tags` the tag catalogue holds, sorted by type and value: one read per tag type (only
 * types Unleash has; a missing one is refused before this matters).
 */
async function readCatalogued(opts: ReadStateOptions, tags: Array<{ type: string; value: string }>): Promise<Array<{ type: string; value: string }>> {
  const held: Array<{ type: string; value: string }> = [];
  for (const type of [...new Set(tags.map((t) => t.type))].sort()) {
    const path = `/api/admin/tags/${encodeURIComponent(type)}`;
    const body = await getJson(opts, path);
    if (!isObject(body) || !Array.isArray(body.tags) || !body.tags.every((t) => isObject(t) && typeof t.value === 'string')) {
      throw unavailable(`unexpected tags body from ${path}`);
    }
    const values = new Set((body.tags as Array<{ value: string }>).map((t) => t.value));
    held.push(...tags.filter((t) => t.type === type && values.has(t.value)));
  }
  const once = [...new Map(held.map((t) => [tagKey(t), { type: t.type, value: t.value }])).values()];
  return once.sort((a, b) => (tagKey(a) < tagKey(b) ? -1 : tagKey(a) > tagKey(b) ? 1 : 0));
}

/**
 * Which of `types` Unleash has. Only the change's own: a held change is applied only on the state
 * it was decided on, which another tag type coming or going does not alter.
 */
async function readTagTypes(opts: ReadStateOptions, types: string[]): Promise<string[]> {
  const path = '/api/admin/tag-types';
  const body = await getJson(opts, path);
  if (!isObject(body) || !Array.isArray(body.tagTypes) || !body.tagTypes.every((t) => isObject(t) && typeof t.name === 'string')) {
    throw unavailable(`unexpected tag types body from ${path}`);
  }
  const known = new Set((body.tagTypes as Array<{ name: string }>).map((t) => t.name));
  return types.filter((t) => known.has(t));
}

/**
 * A flag's admin read. Unleash includes each environment's variants only when asked
 * (`variantEnvironments=true`); without it a flag that has some reads as having none.
 */
export function featurePath(project: string, flagKey: string, withVariants: boolean): string {
  const path = `/api/admin/projects/${encodeURIComponent(project)}/features/${encodeURIComponent(flagKey)}`;
  return withVariants ? `${path}?variantEnvironments=true` : path;
}

/** The compact state of a feature body; `withVariants` for a body read with `featurePath(…, true)`. */
export function liveState(body: unknown, path: string, withVariants: boolean): UnleashFlagState {
  if (!isObject(body) || typeof body.name !== 'string' || !Array.isArray(body.environments)) {
    throw unavailable(`unexpected feature body from ${path}`);
  }
  const environments: Record<string, UnleashEnvironmentState> = {};
  for (const env of body.environments as unknown[]) {
    if (!isObject(env) || typeof env.name !== 'string') throw unavailable(`unexpected environment in ${path}`);
    const strategies = Array.isArray(env.strategies) ? env.strategies.map(strategyState) : [];
    environments[env.name] = { enabled: env.enabled === true, strategies };
    if (withVariants) environments[env.name]!.variants = Array.isArray(env.variants) ? env.variants : [];
  }
  const state: UnleashFlagState = {
    exists: true,
    project: stringOr(body.project),
    name: body.name,
    type: stringOr(body.type),
    archived: body.archived === true,
    stale: body.stale === true,
    createdAt: stringOr(body.createdAt),
    environments,
  };
  if (Array.isArray(body.children) && body.children.length > 0) {
    if (!body.children.every((c) => typeof c === 'string')) throw unavailable(`unexpected children in ${path}`);
    state.children = [...(body.children as string[])].sort();
  }
  return state;
}

export function strategyState(s: unknown): UnleashStrategyState {
  if (!isObject(s)) throw unavailable('unexpected strategy in a feature body');
  const out: UnleashStrategyState = {
    id: String(s.id),
    name: String(s.name),
    parameters: isObject(s.parameters) ? s.parameters : {},
    constraints: Array.isArray(s.constraints) ? s.constraints : [],
    segments: Array.isArray(s.segments) ? s.segments : [],
  };
  if (typeof s.disabled === 'boolean') out.disabled = s.disabled;
  // What the strategy serves and where it stands among the others: a held change is applied only
  // on the strategies as recorded, and a variant patched by index, or a new strategy placed by its
  // sort order, lands elsewhere once these move.
  out.title = typeof s.title === 'string' ? s.title : null;
  if (typeof s.sortOrder === 'number') out.sortOrder = s.sortOrder;
  out.variants = Array.isArray(s.variants) ? s.variants : [];
  return out;
}

export async function readArchived(opts: ReadStateOptions, flagKey: string): Promise<UnleashFlagState> {
  // The search matches substrings (and `_` as a wildcard), so keep only the exact, archived name.
  for (let page = 0; page < SEARCH_MAX_PAGES; page++) {
    const query = new URLSearchParams({
      query: flagKey,
      lifecycle: 'IS:archived',
      limit: String(SEARCH_PAGE),
      offset: String(page * SEARCH_PAGE),
    });
    const path = `/api/admin/search/features?${query.toString()}`;
    const body = await getJson(opts, path);
    if (!isObject(body) || !Array.isArray(body.features)) throw unavailable(`unexpected search body from ${path}`);
    const found = (body.features as unknown[]).find(
      (f) => isObject(f) && f.name === flagKey && f.archivedAt !== null && f.archivedAt !== undefined,
    );
    if (isObject(found)) return archivedState(found);
    const total = typeof body.total === 'number' ? body.total : 0;
    if ((page + 1) * SEARCH_PAGE >= total) return { exists: false };
  }
  throw unavailable(`archived flag ${flagKey} not found within ${SEARCH_MAX_PAGES * SEARCH_PAGE} search results`);
}

function archivedState(f: Record<string, unknown>): UnleashFlagState {
  const environments: Record<string, UnleashEnvironmentState> = {};
  for (const env of Array.isArray(f.environments) ? (f.environments as unknown[]) : []) {
    if (isObject(env) && typeof env.name === 'string') environments[env.name] = { enabled: env.enabled === true };
  }
  return {
    exists: true,
    project: stringOr(f.project),
    name: String(f.name),
    type: stringOr(f.type),
    archived: true,
    stale: f.stale === true,
    createdAt: stringOr(f.createdAt),
    environments,
  };
}

/**
 * The parsed JSON at `path`, or undefined when Unleash says the flag is not there. A 404 that is not
 * Unleash's own "no such feature" (a wrong base URL, another server) is an error, not an absent flag.
 */
export async function getJson(opts: ReadStateOptions, path: string): Promise<unknown> {
  return fetchState(
    {
      platform: 'Unleash',
      baseUrl: opts.baseUrl,
      authorization: opts.token,
      timeoutMs: opts.timeoutMs,
      isNotFound: (body) => isObject(body) && body.name === 'NotFoundError' && !String(body.message).startsWith(UNKNOWN_PATH),
    },
    path,
  );
}

function unavailable(message: string, cause?: unknown, details: Record<string, unknown> = {}): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, { cause, details });
}

function stringOr(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}
