/**
 * Turns a raw request to Flagsmith's admin API into a read, a recognized write (a FlagChange), or an
 * unrecognized write. Pure: no I/O, no clock.
 *
 * Flagsmith names features, feature states and overrides by database id in its paths, so a change's
 * `flagKey` is the feature's name only where the request carries it (creation); elsewhere it is the
 * id path (`feature:12`, `feature-state:7`, …) and the name comes with the previous state read from
 * Flagsmith, where the policy finds it (`previousState.name`). `environment` is the client-side
 * environment key the path names; the policy reads a key it does not know as production.
 */
import { FlaggateError } from '../../errors.js';
import { checkValueObject, INTEGER_LITERAL_MEMBERS, refuseConvertedMembers } from './body-types.js';
import type { RawRequest } from '../../intercept/index.js';
import type { Classification, FlagChange, FlagRead } from '../platform.js';
import { acceptMediaType, decidedRequest, formatQuery, JSON_UTF8, onlyKeys, parseQuery, parseStrictJson, requireNoBody, splitTarget } from '../request/index.js';
import { isFlagRead, joinPath, matchWrite, splitPath, type WriteRoute } from './routes.js';

export const PLATFORM = 'flagsmith';
/** Feature-level writes touch every environment. */
export const ALL_ENVIRONMENTS = '*';

type JsonObject = Record<string, unknown>;
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The row a nested member names: an object's `id`, or the id itself; null for none. */
export function rowIdOf(value: unknown): unknown {
  return (isObject(value) ? value.id : value) ?? null;
}

/** What a Flagsmith deployment sets that decides how it stores a request. */
export interface FlagsmithLimits {
  /** The deployment's `FEATURE_VALUE_LIMIT`: a new identity override's longer value is dropped. */
  featureValueLimit: number;
}

/** Flagsmith's defaults. */
export const FLAGSMITH_DEFAULT_LIMITS: Readonly<FlagsmithLimits> = { featureValueLimit: 20_000 };

/** Throws ADAPT_TARGET_REFUSED, ADAPT_QUERY_REFUSED, ADAPT_ROUTE_UNKNOWN, ADAPT_MEDIA_TYPE_UNSUPPORTED, ADAPT_BODY_MALFORMED. */
export function classifyFlagsmith(req: RawRequest, limits: Readonly<FlagsmithLimits> = FLAGSMITH_DEFAULT_LIMITS): Classification {
  const { path, query } = splitTarget(req.path);
  const segments = splitPath(path);
  if (segments[0] !== 'api') throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'only the Flagsmith API under /api/ is proxied', { details: { path } });
  const method = req.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD') {
    // The sidecar reads with an organisation key: users, keys, organisations and the rest of the
    // administration would hand every flag reader an administrator's view.
    if (!isFlagRead(segments)) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `flaggate passes through flag reads only, not ${path}`, { details: { path } });
    const params = parseQuery(query, (key) => /^[a-z][a-z0-9_]{0,63}$/.test(key));
    return { kind: 'read', read: readOf(segments), forward: decidedRequest(method, joinPath(segments) + formatQuery(params), null, Buffer.alloc(0)) };
  }
  const hit = WRITE_METHODS.has(method) ? matchWrite(method, segments) : undefined;
  if (!hit) return { kind: 'unrecognized', method, path, reason: `no Flagsmith write route for ${method} ${path}` };
  // No write route takes a query: Django REST framework would ignore one, the entry would show it.
  parseQuery(query, []);
  return writeOf(req, method, hit.route, hit.params, joinPath(segments), limits);
}

function readOf(segments: readonly string[]): FlagRead {
  const read: FlagRead = { platform: PLATFORM, action: 'flag.read' };
  const after = (name: string) => {
    const i = segments.indexOf(name);
    return i === -1 ? undefined : segments[i + 1];
  };
  const project = after('projects');
  const feature = after('features');
  const environment = after('environments');
  if (project !== undefined) read.project = project;
  if (feature !== undefined && /^[0-9]+$/.test(feature)) read.flagKey = `feature:${feature}`;
  if (environment !== undefined) read.environment = environment;
  return read;
}

function writeOf(req: RawRequest, method: string, route: WriteRoute, params: Record<string, string>, target: string, limits: Readonly<FlagsmithLimits>): Classification {
  let body: JsonObject | undefined;
  let forward;
  if (route.body === null) {
    requireNoBody(req);
    forward = decidedRequest(method, target, null, Buffer.alloc(0));
  } else {
    const contentType = acceptMediaType(req.headers, [JSON_UTF8]);
    body = withoutKeys(onlyKeys(parseStrictJson(req.body, { integerLiteralsUnder: INTEGER_LITERAL_MEMBERS }), [...route.body, ...(route.ignored ?? [])]), route.ignored ?? []);
    refuseConvertedMembers(body);
    refuseUnrecordedEffects(route, body, limits.featureValueLimit);
    // A PUT replaces the environment's default: what it leaves out is reset (enabled to false, the value cleared).
    if (route.subject === 'future-feature' && method === 'PUT' && isObject(body.environment_default) && !(Object.hasOwn(body.environment_default, 'enabled') && Object.hasOwn(body.environment_default, 'value'))) {
      throw malformed('environment_default must carry both enabled and value on a PUT, which resets what it leaves out (PATCH changes one)', 'environment_default');
    }
    // Flagsmith needs both to find the state (without them it answers 500); flaggate to read it first.
    if (route.subject === 'nested-feature-state' && !(isId(body.environment) && isId(body.feature))) {
      throw malformed('environment and feature must be the ids of the feature state\'s environment and feature', 'environment');
    }
    // These routes type a value by its JSON type and refuse an object, after storing the rest: a
    // PUT or PATCH answers 400, an identity override's create 201 without the value.
    if ((route.subject === 'feature-state' || route.subject === 'identity-override') && isObject(body.feature_state_value)) {
      throw malformed('feature_state_value must be a plain value (a string, an integer, a boolean or null) on this route', 'feature_state_value');
    }
    forward = decidedRequest(method, target, contentType, req.body);
  }
  const change: FlagChange = {
    platform: PLATFORM,
    action: actionOf(route, body),
    flagKey: flagKeyOf(route, params, body),
    environment: params.environment ?? ALL_ENVIRONMENTS,
    newState: newStateOf(route, params, body),
    request: { method, path: forward.target, bodySha256: forward.bodySha256 },
  };
  if (params.project !== undefined) change.project = params.project;
  return { kind: 'write', change, forward };
}



/**
 * Members whose effect the entry would not show, or their absence:
 * - a new segment override's `priority` moves the override already there (django-ordered-model's
 *   `to()`: the two at P and P+1 trade places, and the new one ties with one of them); left out,
 *   the override goes last and nothing moves. Its `feature_segment` holds its segment only;
 * - a multivariate option's value members follow `checkValueObject`;
 * - a new override without `enabled` is stored disabled;
 * - a new identity override's value past the deployment's `FEATURE_VALUE_LIMIT` is dropped, answered 201;
 * - a new option makes its feature multivariate whatever `type` the body says (an AFTER_CREATE hook).
 */
const MAX_SEGMENT_OVERRIDES = 100;

function refuseUnrecordedEffects(route: WriteRoute, body: JsonObject, featureValueLimit: number): void {
  // Without one naming its segment, Flagsmith fails with 500 after the decision: an override of nothing.
  if (route.action === 'segment_override.create' && !(isObject(body.feature_segment) && Number.isSafeInteger(body.feature_segment.segment) && (body.feature_segment.segment as number) > 0)) {
    throw malformed('feature_segment must be present and name its segment ({"segment": id})', 'feature_segment');
  }
  if (route.action === 'segment_override.create' && isObject(body.feature_segment)) {
    for (const key of ['priority', 'uuid']) {
      if (Object.hasOwn(body.feature_segment, key)) throw malformed(`feature_segment.${key} must be absent: ${key === 'priority' ? 'a new override goes last; a priority moves the overrides already there' : 'Flagsmith sets it'}`, `feature_segment/${key}`);
    }
    const stray = Object.keys(body.feature_segment).find((k) => k !== 'segment' && k !== 'id');
    if (stray !== undefined) throw malformed(`feature_segment.${stray} must be absent: Flagsmith drops it`, `feature_segment/${stray}`);
  }
  // Each override's segment is read before deciding: a list past Flagsmith's own limit of overrides
  // (SEGMENT_OVERRIDES_LIMIT, 100 by default) is refused rather than read segment by segment.
  if (route.subject === 'future-feature' && Array.isArray(body.segment_overrides) && body.segment_overrides.length > MAX_SEGMENT_OVERRIDES) {
    throw malformed(`segment_overrides must hold at most ${MAX_SEGMENT_OVERRIDES} overrides`, 'segment_overrides');
  }
  if (route.subject === 'variant') checkValueObject(body, '', false);
  // One without a value takes the feature's default, as the entry's absent value says.
  if ((route.action === 'identity_override.create' || route.action === 'segment_override.create') && !Object.hasOwn(body, 'enabled')) {
    throw malformed('enabled must be present on a new override (left out, Flagsmith stores false)', 'enabled');
  }
  // DRF counts code points, never more than UTF-16 units: only a long value is counted again.
  const value = body.feature_state_value;
  if (route.action === 'identity_override.create' && typeof value === 'string' && value.length > featureValueLimit && [...value].length > featureValueLimit) {
    throw malformed(`feature_state_value must be at most ${featureValueLimit} characters on a new identity override: Flagsmith drops a longer one and answers 201`, 'feature_state_value');
  }
  const addsOptions = route.subject === 'feature' && Array.isArray(body.multivariate_options) && body.multivariate_options.some((o) => isObject(o) && !Object.hasOwn(o, 'id'));
  if (addsOptions && Object.hasOwn(body, 'type') && body.type !== 'MULTIVARIATE') {
    throw malformed('type must be MULTIVARIATE beside new options: a new option makes the feature multivariate', 'type');
  }
  // An update's new option gets its default share in every environment, checked only against the
  // body's defaults: an environment whose allocations were edited goes past 100%, and never serves
  // it. The option route checks each environment's own total.
  if (addsOptions && route.action !== 'flag.create') {
    throw malformed('multivariate_options must not add options to an existing feature: create each through POST …/features/{id}/mv-options/, which checks every environment\'s allocations', 'multivariate_options');
  }
}

/** An environment's feature state whose only change is `enabled` is an enable or a disable. */
function actionOf(route: WriteRoute, body: JsonObject | undefined): string {
  if (route.subject !== 'feature-state' || !body) return route.action;
  const keys = Object.keys(body).filter((k) => k !== 'feature');
  if (keys.length === 1 && keys[0] === 'enabled' && typeof body.enabled === 'boolean') return body.enabled ? 'flag.enable' : 'flag.disable';
  return route.action;
}

function flagKeyOf(route: WriteRoute, params: Record<string, string>, body: JsonObject | undefined): string {
  if (route.action === 'flag.create') {
    const name = body?.name;
    if (typeof name !== 'string' || !/^[A-Za-z0-9_.\- ]{1,150}$/.test(name) || name.trim() !== name) {
      throw malformed('name must be a feature name (letters, digits, "_", ".", "-", inner spaces)', 'name');
    }
    return name;
  }
  if (params.feature !== undefined) return `feature:${params.feature}`;
  if (params.featureSegment !== undefined) return `feature-segment:${params.featureSegment}`;
  if (params.featureState !== undefined) return `feature-state:${params.featureState}`;
  // Creating an identity override: the feature is in the body.
  const feature = body?.feature;
  if (!isId(feature)) throw malformed('feature must be a feature id', 'feature');
  return `feature:${feature}`;
}

/** `body` without the members Flagsmith drops on this route. */
function withoutKeys(body: JsonObject, keys: readonly string[]): JsonObject {
  return keys.some((k) => Object.hasOwn(body, k)) ? Object.fromEntries(Object.entries(body).filter(([k]) => !keys.includes(k))) : body;
}

function isId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

/** The body, plus what the path says the change is about (ids Flagsmith will act on). */
function newStateOf(route: WriteRoute, params: Record<string, string>, body: JsonObject | undefined): unknown {
  const ids: JsonObject = {};
  for (const name of ['featureState', 'featureSegment', 'identity', 'segment', 'variant'] as const) {
    if (params[name] !== undefined) ids[name] = Number(params[name]);
  }
  if (route.body === null) return { ...ids, deleted: true };
  return Object.keys(ids).length === 0 ? body : { ...body, ...ids };
}

function malformed(message: string, field?: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message, field === undefined ? undefined : { details: { field } });
}
