/**
 * Turns a raw request to the Unleash API into a read, a recognized write (a FlagChange), or an
 * unrecognized write. Pure: no I/O, no clock.
 */
import { FlaggateError } from '../../errors.js';
import type { Classification, DecidedRequest, FlagChange, FlagRead } from '../platform.js';
import type { RawRequest } from '../../intercept/index.js';
import { decidedRequest, formatQuery, parseQuery, splitTarget } from '../request/index.js';
import { isObject, readJsonBody, requireNoBody, type JsonObject, type PatchOperation } from './body.js';
import { buildPath, canonicalPath, isUsableName, matchWrite, splitPath, type Segment, type WriteRoute } from './routes.js';

export const PLATFORM = 'unleash';

/**
 * Feature-level writes (create, update, archive, delete, revive) touch every environment at once, so
 * their `environment` is `'*'`. The policy treats an environment name it does not know as
 * production-class, which is the safe reading of "all environments".
 */
export const ALL_ENVIRONMENTS = '*';

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Classifies one request and rebuilds the request to forward from what it understood. Throws
 * ADAPT_TARGET_REFUSED / ADAPT_QUERY_REFUSED for targets a later hop could read another way,
 * ADAPT_ROUTE_UNKNOWN for paths outside `/api/` or paths that could be read two ways,
 * ADAPT_MEDIA_TYPE_UNSUPPORTED and ADAPT_BODY_MALFORMED for bodies not exactly as the route takes them.
 */
export function classifyUnleash(req: RawRequest): Classification {
  const { path, query } = splitTarget(req.path);
  const segments = splitPath(path);
  if (segments[0]?.raw.toLowerCase() !== 'api') {
    throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'only the Unleash API under /api/ is proxied', { details: { path } });
  }
  const method = req.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD') {
    if (!isFlagRead(segments)) {
      // The sidecar reads with an admin token: anything beyond flags (API tokens, users, roles…)
      // would hand every reader an administrator's view. Not passed through.
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `flaggate passes through flag reads only, not ${path}`, { details: { path } });
    }
    // Reads carry search and paging parameters the write routes do not: any plain key, once each.
    const params = parseQuery(query, isPlainKey);
    return { kind: 'read', read: readOf(segments), forward: decidedRequest(method, canonicalPath(segments) + formatQuery(params), null, Buffer.alloc(0)) };
  }
  const hit = WRITE_METHODS.has(method) ? matchWrite(method, segments) : undefined;
  if (!hit) {
    return { kind: 'unrecognized', method, path, reason: `no Unleash write route for ${method} ${path}` };
  }
  return writeOf(req, method, hit.route, hit.params, parseQuery(query, hit.route.query ?? []));
}

function isPlainKey(key: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(key);
}

/** Admin API collections that describe flags and where they apply; everything else is administration. */
const flagReadCollections = new Set(['features', 'archive', 'environments', 'strategies', 'segments', 'feature-types', 'tags', 'tag-types', 'context']);

/**
 * True for the reads a flag tool needs: `/api/admin/<flag collection>/…`, `/api/admin/search/features`,
 * `/api/admin/projects[/:project[/features/…]]`, and the client API's `/api/client/features…`.
 */
export function isFlagRead(segments: readonly Segment[]): boolean {
  const [api, area, first, second, third] = segments.map((s) => s.raw.toLowerCase());
  if (api !== 'api') return false;
  if (area === 'client') return first === 'features';
  if (area !== 'admin' || first === undefined) return false;
  if (flagReadCollections.has(first)) return true;
  if (first === 'search') return second === 'features' && segments.length === 4;
  if (first === 'projects') return second === undefined || third === undefined || third === 'features';
  return false;
}

function readOf(segments: readonly Segment[]): FlagRead {
  const read: FlagRead = { platform: PLATFORM, action: 'flag.read' };
  const after = (name: string): string | undefined => {
    const i = segments.findIndex((s) => s.raw.toLowerCase() === name);
    return i === -1 ? undefined : segments[i + 1]?.decoded;
  };
  const project = after('projects');
  const flagKey = after('features');
  const environment = after('environments');
  if (project !== undefined) read.project = project;
  if (flagKey !== undefined) read.flagKey = flagKey;
  if (environment !== undefined) read.environment = environment;
  return read;
}

/**
 * Query parameters change what some writes do (`/on?shouldActivateDisabledStrategies=true` also
 * re-enables strategies), so they are part of the new state the policy decides on and the entry shows.
 */
function withQuery(newState: unknown, query: Record<string, string>): unknown {
  if (Object.keys(query).length === 0) return newState;
  const plain = { ...query };
  return isObject(newState) ? { ...newState, query: plain } : { value: newState ?? null, query: plain };
}

function writeOf(
  req: RawRequest,
  method: string,
  route: WriteRoute,
  params: Record<string, string>,
  query: Record<string, string>,
): Classification {
  let body: JsonObject | PatchOperation[] | undefined;
  let forward: DecidedRequest;
  const target = buildPath(route, params) + formatQuery(query);
  if (route.body === 'none') {
    requireNoBody(req);
    forward = decidedRequest(method, target, null, Buffer.alloc(0));
  } else {
    const read = readJsonBody(req, route.body);
    body = read.value;
    forward = decidedRequest(method, target, read.contentType, req.body);
  }
  const flagKey = route.flagKeyFrom === 'body' ? nameFromBody(body) : params.feature;
  if (flagKey === undefined) throw new TypeError(`route ${route.pattern} yields no flag key`);
  const change: FlagChange = {
    platform: PLATFORM,
    action: route.action,
    flagKey,
    environment: params.environment ?? ALL_ENVIRONMENTS,
    newState: withQuery(newStateOf(route, params, body), query),
    // Exactly the request that is forwarded: rebuilt path and query, the forwarded body's digest.
    request: { method, path: forward.target, bodySha256: forward.bodySha256 },
  };
  if (params.project !== undefined) change.project = params.project;
  return { kind: 'write', change, forward };
}

function nameFromBody(body: JsonObject | PatchOperation[] | undefined): string {
  const name = isObject(body) ? body.name : undefined;
  if (typeof name !== 'string' || !isUsableName(name)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', 'body.name must be a usable flag name', { details: { field: 'name' } });
  }
  return name;
}

function newStateOf(
  route: WriteRoute,
  params: Record<string, string>,
  body: JsonObject | PatchOperation[] | undefined,
): unknown {
  const patch = Array.isArray(body) ? { patch: body } : undefined;
  switch (route.action) {
    case 'flag.enable':
      return { enabled: true };
    case 'flag.disable':
      return { enabled: false };
    case 'flag.archive':
      return { archived: true };
    case 'flag.revive':
      return { archived: false };
    case 'flag.delete':
      return { deleted: true };
    case 'strategy.delete':
      return { id: params.strategyId, deleted: true };
    case 'strategy.create':
      return normalizeStrategy(body as JsonObject);
    case 'strategy.update':
      // The id from the path wins over any id in the body: it is the strategy Unleash will change.
      return patch ? { id: params.strategyId, ...patch } : { ...normalizeStrategy(body as JsonObject), id: params.strategyId };
    default:
      return patch ?? body;
  }
}

/**
 * A strategy with its lists present and its rollout as a number: Unleash sends `rollout` as a string
 * parameter ("25"), which policies should not have to parse.
 */
function normalizeStrategy(body: JsonObject): JsonObject {
  const { parameters = {}, constraints = [], segments = [] } = body;
  if (!isObject(parameters)) throw fieldMalformed('parameters', 'an object');
  if (!Array.isArray(constraints)) throw fieldMalformed('constraints', 'an array');
  if (!Array.isArray(segments)) throw fieldMalformed('segments', 'an array');
  // `rollout` is derived only; a top-level one from the client would mislead the policy.
  const { rollout: _ignored, ...rest } = body;
  const out: JsonObject = { ...rest, parameters, constraints, segments };
  if (parameters.rollout !== undefined) {
    const rollout = typeof parameters.rollout === 'string' ? Number(parameters.rollout.trim()) : parameters.rollout;
    if (typeof rollout !== 'number' || !Number.isFinite(rollout) || String(parameters.rollout).trim() === '') {
      throw fieldMalformed('parameters.rollout', 'a number');
    }
    out.rollout = rollout;
  }
  return out;
}

function fieldMalformed(field: string, want: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be ${want}`, { details: { field } });
}
