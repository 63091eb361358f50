/**
 * Reads the state a Flagsmith change starts from, with the sidecar's organisation credential, and
 * the feature's name: Flagsmith paths name features by id, and the policy judges a flag by its name
 * (`previousState.name`). A change whose feature cannot be found or named is refused
 * (ADAPT_STATE_UNAVAILABLE), never decided on an id alone.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { fetchState } from '../request/index.js';
import { isObject, PLATFORM, rowIdOf } from './classify.js';
import { matchWrite, splitPath } from './routes.js';

export interface ReadStateOptions {
  baseUrl: string;
  /** The whole Authorization value: `Api-Key …` or `Token …`. */
  authorization: string;
  timeoutMs: number;
}

/** The compact state recorded as `previousState`. */
export interface FlagsmithState {
  exists: boolean;
  /** The feature's name, as Flagsmith has it. */
  name?: string;
  /** The feature (id, project, type, default_enabled, initial_value, archived). */
  feature?: Record<string, unknown>;
  /** The environment the change applies in (api_key, id, name), when it names one. */
  environment?: { api_key: string; id: unknown; name: unknown };
  /** What the change touches in that environment: a feature state, an override, a variant, or the flag as `__future__` shows it. */
  target?: unknown;
  /**
   * For a feature's create, and a new segment or identity override without a value: whether the
   * project prevents flag defaults. Then Flagsmith starts the feature off and without a value in
   * every environment, whatever `default_enabled` and `initial_value` the feature itself keeps, and
   * such an override without a value rather than with `initial_value`.
   */
  preventFlagDefaults?: boolean;
  /**
   * For a segment override: its segment as the feature's project lists it (id, name, the feature it
   * is specific to, and its rules), or null when the project has no such live segment.
   */
  segment?: { id: unknown; name: unknown; feature: unknown; rules?: unknown } | null;
  /** For a `__future__` change: the segment of each override it finds or names, with its rules (`rules` null: not a live segment of the project). */
  segments?: Array<NonNullable<FlagsmithState['segment']>>;
  /** For a change to an existing segment override: its feature segment (segment, priority: the first matching override is served). */
  featureSegment?: { id: unknown; segment: unknown; priority: unknown; environment: unknown };
  /** For a feature segment's delete: the states that serve it, which Flagsmith deletes with it. */
  overrides?: Json[];
  /**
   * For a change to the feature itself (update, delete, options): what each environment of its
   * project serves of it, allocations and segment overrides included. Identity overrides are not
   * listed (there may be any number).
   */
  served?: ServedIn[];
  /**
   * In an environment with versioning (`use_v2_feature_versioning`): the feature's versions there
   * published to go live later, oldest first. Each replaces, when it goes live, whatever version is
   * live then, this change's included: the change holds only until the first of them.
   */
  scheduled?: ScheduledVersion[];
}

/** What one environment serves of a feature, as `__future__` shows it. */
export interface ServedIn {
  environment: NonNullable<FlagsmithState['environment']>;
  /** `enabled`, `value` and `variants` (each option's weight). */
  environment_default: unknown;
  /** Each with its segment, priority, and what it serves. */
  segment_overrides: unknown;
}

/** A version of a feature in one environment, published and not live yet. */
export interface ScheduledVersion {
  uuid: string;
  live_from: string;
  description: unknown;
}

type Json = Record<string, unknown>;

export async function readFlagsmithState(opts: ReadStateOptions, change: FlagChange): Promise<FlagsmithState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not a Flagsmith change: ${change.platform}`);
  const hit = matchWrite(change.request.method, splitPath(change.request.path.split('?')[0]!));
  if (!hit) throw new TypeError(`not a Flagsmith write route: ${change.request.method} ${change.request.path}`);
  const get = (path: string) => getJson(opts, path);
  const env = hit.params.environment === undefined ? undefined : await readEnvironment(get, hit.params.environment);
  const state = await readRouteState(get, hit, env, change);
  // Identity overrides are not versioned: a version going live leaves them as they are.
  if (env?.versioned && hit.route.subject !== 'identity-override' && typeof state.feature?.id === 'number') {
    state.scheduled = await readScheduled(get, env.summary.id, state.feature.id);
  }
  return state;
}

async function readRouteState(get: Get, { route, params }: NonNullable<ReturnType<typeof matchWrite>>, env: Environment | undefined, change: FlagChange): Promise<FlagsmithState> {

  if (route.action === 'flag.create') {
    const found = await get(`/api/v1/projects/${params.project}/features/?search=${encodeURIComponent(change.flagKey)}`);
    const same = results(found).find((f) => f.name === change.flagKey);
    if (same) return { exists: true, name: change.flagKey, feature: compactFeature(same) };
    return { exists: false, name: change.flagKey, preventFlagDefaults: await preventsFlagDefaults(get, params.project!) };
  }

  switch (route.subject) {
    case 'feature':
    case 'variant': {
      const feature = await get(`/api/v1/projects/${params.project ?? env!.project}/features/${params.feature}/`);
      if (feature === undefined) return { exists: false };
      const state: FlagsmithState = { exists: true, name: String(feature.name), feature: compactFeature(feature) };
      if (env) {
        state.environment = env.summary;
        state.target = await get(`/api/__future__/environments/${params.environment}/features/${params.feature}/`);
      } else {
        // A feature's update, delete or option change acts in every environment at once.
        state.served = await servedEverywhere(get, feature.project, feature.id);
      }
      if (params.variant !== undefined) state.target = (feature.multivariate_options as Json[] | undefined)?.find((o) => String(o.id) === params.variant) ?? null;
      if (route.action === 'segment_override.create') {
        state.segment = await readSegment(get, feature.project, change.newState);
        return withDefaultsWhenValueless(get, state, change);
      }
      return state;
    }
    case 'future-feature': {
      const target = await get(`/api/__future__/environments/${params.environment}/features/${params.feature}/`);
      const state = await withFeature(get, Number(params.feature), env, target);
      state.segments = await segmentsOfOverrides(get, state.feature?.project, target, change.newState);
      return state;
    }
    case 'feature-state': {
      const target = await get(`/api/v1/environments/${params.environment}/featurestates/${params.featureState}/`);
      return withFeature(get, target?.feature, env, target);
    }
    case 'identity-override': {
      if (params.featureState === undefined) {
        const feature = Number(change.flagKey.slice('feature:'.length));
        // Filtered by the feature: the list comes in pages of 10, and an identity may override more.
        const all = await get(`/api/v1/environments/${params.environment}/identities/${params.identity}/featurestates/?feature=${feature}`);
        const state = await withFeature(get, feature, env, results(all).find((s) => s.feature === feature) ?? null);
        return withDefaultsWhenValueless(get, state, change);
      }
      const target = await get(`/api/v1/environments/${params.environment}/identities/${params.identity}/featurestates/${params.featureState}/`);
      return withFeature(get, target?.feature, env, target);
    }
    case 'nested-feature-state': {
      const body = change.newState as Json;
      // The list holds identity overrides too, ten a page: narrowed to the feature segment the body names, else read page by page.
      const named = rowIdOf(body.feature_segment);
      const narrowed = Number.isSafeInteger(named) ? `&feature_segment=${Number(named)}` : '';
      const target = await findInPages(get, `/api/v1/features/featurestates/?environment=${Number(body.environment)}&feature=${Number(body.feature)}${narrowed}`, (s) => String(s.id) === params.featureState);
      // A row outside the environment's live states (scheduled, an older version, a draft) is not
      // listed: named from the body for the record, and refused (own-feature.ts).
      const state = await withFeature(get, target?.feature ?? Number(body.feature), undefined, target);
      const featureSegment = target === undefined ? undefined : rowIdOf(target.feature_segment);
      return Number.isSafeInteger(featureSegment) ? withOverrideAudience(get, state, await get(`/api/v1/features/feature-segments/${Number(featureSegment)}/`)) : state;
    }
    case 'feature-segment': {
      const target = await get(`/api/v1/features/feature-segments/${params.featureSegment}/`);
      if (target === undefined) return withFeature(get, undefined, undefined, target);
      const served = await statesOfSegmentOverride(get, target);
      const state = await withFeature(get, target.feature ?? featureOf(served), undefined, target);
      // Deleting the feature segment deletes the states that serve it (on_delete CASCADE).
      state.overrides = served;
      return withOverrideAudience(get, state, target);
    }
  }
}

type Get = (path: string) => Promise<Json | undefined>;

/**
 * The segment a new override names, read through the feature's project: Flagsmith's create takes
 * any segment by id (another project's, a hidden revision of one, one specific to another feature),
 * while it serves only the project's live segments, and deletes an override with the feature its
 * segment is specific to.
 */
async function readSegment(get: Get, project: unknown, newState: unknown): Promise<FlagsmithState['segment']> {
  const featureSegment = isObject(newState) && isObject(newState.feature_segment) ? newState.feature_segment : {};
  return segmentOfProject(get, project, featureSegment.segment);
}

/** A segment as the project lists it, with the rules that select its audience; null when it has no such live segment. */
async function segmentOfProject(get: Get, project: unknown, id: unknown): Promise<FlagsmithState['segment']> {
  if (!Number.isSafeInteger(id) || !Number.isSafeInteger(project)) return null;
  const segment = await get(`/api/v1/projects/${Number(project)}/segments/${Number(id)}/`);
  return segment === undefined ? null : { id: segment.id, name: segment.name, feature: segment.feature ?? null, rules: byId(segment.rules) };
}

/**
 * Rows (and the rules and conditions nested in them) in order of id: Flagsmith returns a segment's
 * rules and conditions in no fixed order unless SEGMENT_RULES_CONDITIONS_EXPLICIT_ORDERING_ENABLED
 * is set (their meaning does not depend on it), and a held change is compared with its state read
 * again: the same rules read in another order must not make it stale.
 */
function byId(rows: unknown): unknown {
  if (!Array.isArray(rows)) return rows;
  const ordered = rows.map((row) => (isObject(row) ? { ...row, ...(Array.isArray(row.rules) ? { rules: byId(row.rules) } : {}), ...(Array.isArray(row.conditions) ? { conditions: byId(row.conditions) } : {}) } : row));
  return ordered.sort((a, b) => numberAt(a, 'id') - numberAt(b, 'id'));
}

/**
 * The segments of the overrides a `__future__` change finds and names, each as the project lists it
 * with its rules (null when the project has no such live segment): who each override serves.
 */
async function segmentsOfOverrides(get: Get, project: unknown, target: Json | undefined, newState: unknown): Promise<NonNullable<FlagsmithState['segments']>> {
  const overrides = [target?.segment_overrides, isObject(newState) ? newState.segment_overrides : undefined].flatMap((list) => (Array.isArray(list) ? list.filter(isObject) : []));
  const ids = [...new Set(overrides.map((o) => (isObject(o.segment) ? o.segment.id : undefined)).filter((id): id is number => Number.isSafeInteger(id)))].sort((a, b) => a - b);
  const segments: NonNullable<FlagsmithState['segments']> = [];
  for (const id of ids) segments.push((await segmentOfProject(get, project, id)) ?? { id, name: null, feature: null, rules: null });
  return segments;
}

/** What every environment of the project serves of the feature (environments in pages of ten, at most 100 of them). */
async function servedEverywhere(get: Get, project: unknown, featureId: unknown): Promise<ServedIn[]> {
  if (!Number.isSafeInteger(project) || !Number.isSafeInteger(featureId)) throw unavailable('the feature\'s project could not be read');
  const served: ServedIn[] = [];
  for (let page = 1; ; page++) {
    if (page > 10) throw unavailable(`project ${String(project)} lists more environments than the 100 flaggate reads for one change`);
    const list = await get(`/api/v1/environments/?project=${Number(project)}&page=${page}`);
    if (list === undefined || !Array.isArray(list.results)) throw unavailable(`Flagsmith did not list project ${String(project)}'s environments`);
    for (const env of results(list)) {
      if (typeof env.api_key !== 'string' || !/^[A-Za-z0-9_-]+$/.test(env.api_key)) throw unavailable('an environment of the project has no plain key');
      const flag = await get(`/api/__future__/environments/${env.api_key}/features/${Number(featureId)}/`);
      if (flag === undefined) throw unavailable(`Flagsmith did not say what environment ${env.api_key} serves of feature ${String(featureId)}`);
      served.push({ environment: { api_key: env.api_key, id: env.id, name: env.name }, environment_default: flag.environment_default, segment_overrides: flag.segment_overrides });
    }
    if (list.next === null || list.next === undefined) return served;
  }
}

/**
 * Who an existing segment override serves: its feature segment's place among the environment's
 * overrides (`priority`: the first that matches is served) and its segment's rules. Either may
 * change while a change to the override is held.
 */
async function withOverrideAudience(get: Get, state: FlagsmithState, featureSegment: Json | undefined): Promise<FlagsmithState> {
  if (featureSegment === undefined) throw unavailable('the feature segment of this segment override could not be read');
  const { id, segment, priority, environment } = featureSegment;
  state.featureSegment = { id, segment, priority, environment };
  state.segment = await segmentOfProject(get, state.feature?.project, segment);
  return state;
}

/**
 * The states a segment override's feature segment serves: Flagsmith's answer for the feature segment
 * does not name its feature, the environment's states filtered by it do.
 */
async function statesOfSegmentOverride(get: Get, featureSegment: Json): Promise<Json[]> {
  const states = results(await get(`/api/v1/features/featurestates/?environment=${Number(featureSegment.environment)}&feature_segment=${Number(featureSegment.id)}`));
  // Only the rows that say they are its own: a filter not applied would list other features' states.
  // Their allocations come in no fixed order: by option.
  return states
    .filter((s) => rowIdOf(s.feature_segment) === featureSegment.id)
    .map((s) => (Array.isArray(s.multivariate_feature_state_values) ? { ...s, multivariate_feature_state_values: byOption(s.multivariate_feature_state_values) } : s));
}

function byOption(values: unknown[]): unknown[] {
  return [...values].sort((a, b) => numberAt(a, 'multivariate_feature_option') - numberAt(b, 'multivariate_feature_option'));
}

/** A row's numeric member for ordering; 0 for one without it (Flagsmith gives every row one). */
function numberAt(row: unknown, key: string): number {
  const value = isObject(row) ? row[key] : undefined;
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/** The one feature some states serve, or undefined when they serve none or several. */
function featureOf(states: readonly Json[]): number | undefined {
  const features = new Set(states.map((s) => s.feature));
  const [only] = features;
  return features.size === 1 && typeof only === 'number' ? only : undefined;
}

/**
 * A new override without a value takes the feature's `initial_value`, unless the project prevents
 * flag defaults: then it is stored and served without one. Which of the two is recorded.
 */
async function withDefaultsWhenValueless(get: Get, state: FlagsmithState, change: FlagChange): Promise<FlagsmithState> {
  const valueless = !isObject(change.newState) || change.newState.feature_state_value === undefined;
  if (!valueless || (!state.exists && state.feature === undefined)) return state;
  if (!Number.isSafeInteger(state.feature?.project)) throw unavailable(`the project of feature ${String(state.feature?.id)} could not be read`);
  state.preventFlagDefaults = await preventsFlagDefaults(get, String(state.feature!.project));
  return state;
}

async function preventsFlagDefaults(get: Get, project: string): Promise<boolean> {
  const settings = await get(`/api/v1/projects/${project}/`);
  if (settings === undefined || typeof settings.prevent_flag_defaults !== 'boolean') throw unavailable(`Flagsmith does not say whether project ${project} prevents flag defaults`);
  return settings.prevent_flag_defaults;
}

interface Environment {
  project: unknown;
  summary: NonNullable<FlagsmithState['environment']>;
  /** Whether its feature states change by versions (`use_v2_feature_versioning`); a Flagsmith without versions does not say. */
  versioned: boolean;
}

async function readEnvironment(get: Get, key: string): Promise<Environment> {
  const env = await get(`/api/v1/environments/${key}/`);
  if (env === undefined) throw unavailable(`Flagsmith has no environment ${key}`);
  return { project: env.project, summary: { api_key: key, id: env.id, name: env.name }, versioned: env.use_v2_feature_versioning === true };
}

/**
 * The feature's versions in a versioned environment that are published and not live yet (made on
 * Flagsmith directly, or by its change requests): the list of those not live holds drafts too, which
 * nothing serves until they are published. One page holds up to 999; a list that goes on is refused
 * rather than read in part.
 */
async function readScheduled(get: Get, environmentId: unknown, featureId: number): Promise<ScheduledVersion[]> {
  if (!Number.isSafeInteger(environmentId)) throw unavailable('the environment\'s id could not be read');
  const list = await get(`/api/v1/environments/${Number(environmentId)}/features/${featureId}/versions/?is_live=false&page_size=999`);
  if (list === undefined || !Array.isArray(list.results) || list.next !== null) throw unavailable(`Flagsmith did not list feature ${featureId}'s versions not live yet in one page`);
  const scheduled = results(list).filter((v) => v.published === true && v.is_live === false);
  if (scheduled.some((v) => typeof v.uuid !== 'string' || typeof v.live_from !== 'string' || Number.isNaN(Date.parse(v.live_from)))) throw unavailable(`a version of feature ${featureId} scheduled to go live does not say when`);
  // Soonest first; versions live from one time in the order of their ids (Flagsmith orders by time only).
  return scheduled
    .map((v) => ({ uuid: v.uuid as string, live_from: v.live_from as string, description: v.description ?? null }))
    .sort((a, b) => Date.parse(a.live_from) - Date.parse(b.live_from) || (a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0));
}

/** A state whose feature is named by id: found through the projects the credential sees (feature ids are global). */
async function withFeature(get: Get, featureId: unknown, env: Environment | undefined, target: Json | undefined | null): Promise<FlagsmithState> {
  if (target === undefined || target === null) {
    if (typeof featureId !== 'number') return { exists: false, ...(env ? { environment: env.summary } : {}) };
  }
  if (typeof featureId !== 'number' || !Number.isSafeInteger(featureId)) throw unavailable('the feature this change touches could not be determined');
  const projects = results(await get('/api/v1/projects/'));
  for (const project of projects) {
    const feature = await get(`/api/v1/projects/${Number(project.id)}/features/${featureId}/`);
    if (feature === undefined) continue;
    const state: FlagsmithState = { exists: target !== undefined && target !== null, name: String(feature.name), feature: compactFeature(feature), target: target ?? null };
    if (env) state.environment = env.summary;
    return state;
  }
  throw unavailable(`feature ${featureId} is in no project the sidecar's credential can read`);
}

function compactFeature(f: Json): Json {
  // `is_server_key_only` keeps a feature from client-side keys: a change of it changes who is served.
  const { id, name, project, type, default_enabled, initial_value, is_archived, is_server_key_only, tags, multivariate_options, metadata } = f;
  const compact: Json = { id, name, project, type, default_enabled, initial_value, is_archived, is_server_key_only, tags, multivariate_options: byId(multivariate_options), metadata };
  // The ledger records JSON: a field this Flagsmith leaves out is left out, not recorded as undefined.
  for (const key of Object.keys(compact)) if (compact[key] === undefined) delete compact[key];
  return compact;
}

/** Pages read of one list before it is refused as endless (10,000 rows at Flagsmith's ten a page). */
const MAX_PAGES = 1000;

/** The first row of a paged list that `wanted` holds, page by page; undefined when no page has it. */
async function findInPages(get: Get, path: string, wanted: (row: Json) => boolean): Promise<Json | undefined> {
  for (let page = 1; page <= MAX_PAGES; page++) {
    const list = await get(`${path}&page=${page}`);
    const found = results(list).find(wanted);
    if (found || list === undefined || list.next === null || list.next === undefined) return found;
  }
  throw unavailable(`Flagsmith lists more than ${MAX_PAGES} pages at ${path}`);
}

/** The rows of a list answer: DRF pages (`results`) or a bare array. */
function results(body: unknown): Json[] {
  const rows = Array.isArray(body) ? body : isObject(body) && Array.isArray(body.results) ? body.results : [];
  return rows.filter(isObject);
}

/** The parsed JSON at `path`, or undefined when Django REST framework's own 404 (with a `detail`) says it is not there. */
async function getJson(opts: ReadStateOptions, path: string): Promise<Json | undefined> {
  const body = await fetchState(
    { platform: 'Flagsmith', baseUrl: opts.baseUrl, authorization: opts.authorization, timeoutMs: opts.timeoutMs, isNotFound: (b) => isObject(b) && typeof b.detail === 'string' },
    path,
  );
  return body as Json | undefined;
}

function unavailable(message: string, cause?: unknown, details: Record<string, unknown> = {}): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, { cause, details });
}
