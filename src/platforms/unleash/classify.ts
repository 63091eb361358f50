/**
 * Turns a raw request to the Unleash API into a read, a recognized write (a FlagChange), or an
 * unrecognized write. Pure: no I/O, no clock.
 */
import { FlaggateError } from '../../errors.js';
import type { Classification, DecidedRequest, FlagChange, FlagRead } from '../platform.js';
import type { RawRequest } from '../../intercept/index.js';
import { decidedRequest, formatQuery, parseQuery, splitTarget } from '../request/index.js';
import { importChange, parseImport } from './import.js';
import { refusalFor } from './refused.js';
import { refuseCoercedTypes } from './coerced-types.js';
import { fieldMalformed, isObject, readJsonBody, requireNoBody, usableName, type JsonObject, type PatchOperation, type WriteBody } from './body.js';
import { newStateOf } from './new-state.js';
import { onlyDescription } from './patch-checks.js';
import { buildPath, canonicalPath, isUsableName, matchPostRead, matchWrite, splitPath, type Segment, type WriteRoute } from './routes.js';

export const PLATFORM = 'unleash';

/**
 * Writes that reach every environment at once (archive, delete, revive, type, dependencies…) carry
 * `environments: ['*']` and `environment: '*'`; the policy reads "every environment" as every
 * class it knows, production included. Writes that alter no environment (a new flag, disabled
 * everywhere; descriptive metadata) carry `environments: []` and no `environment`.
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
  const check = matchPostRead(method, segments);
  if (check) {
    // A validate* operation changes nothing: a read, forwarded with its body rebuilt as a write's would be.
    parseQuery(query, []);
    const read = readJsonBody(req, check.route.body);
    const forward = decidedRequest(method, buildPath(check.route, check.params), read.contentType, req.body);
    return { kind: 'read', read: readOf(segments), forward };
  }
  const hit = WRITE_METHODS.has(method) ? matchWrite(method, segments) : undefined;
  if (!hit) {
    const refusal = refusalFor(method, segments);
    const reason = refusal ? `${refusal.operation} is refused by design: ${refusal.reason}` : `no Unleash write route for ${method} ${path}`;
    return { kind: 'unrecognized', method, path, reason };
  }
  const ignored = hit.route.ignoredQuery ?? [];
  const read = parseQuery(query, [...(hit.route.query ?? []), ...ignored]);
  // What Unleash does not read is not sent on, and the entry does not show it.
  for (const name of ignored) delete read[name];
  return writeOf(req, method, hit.route, hit.params, read);
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
  let body: WriteBody;
  let forward: DecidedRequest;
  const target = buildPath(route, params) + formatQuery(query);
  if (route.body === 'none') {
    requireNoBody(req);
    forward = decidedRequest(method, target, null, Buffer.alloc(0));
  } else {
    const read = readJsonBody(req, route.body);
    refuseCoercedTypes(route, read.value);
    body = read.value;
    forward = decidedRequest(method, target, read.contentType, req.body);
  }
  if (route.action === 'flag.update' && route.scope === 'all') refuseArchiving(route, body);
  const request = { method, path: forward.target, bodySha256: forward.bodySha256 };
  if (route.flagKeyFrom === 'import') return { kind: 'write', change: importChange(parseImport(body as JsonObject), request), forward };
  const environments = environmentsOf(route, params, body);
  const batch = route.flagKeyFrom === 'features' ? batchFlags(body) : undefined;
  const change: FlagChange = {
    platform: PLATFORM,
    action: route.action,
    flagKey: batch ? batch.join(',') : flagKeyOf(route, params, body),
    environments,
    newState: withQuery(newStateOf(route, params, body, environments), query),
    // Exactly the request that is forwarded: rebuilt path and query, the forwarded body's digest.
    request,
  };
  if (batch) {
    change.flags = batch.map((flagKey) => ({ flagKey, project: params.project!, environments }));
    change.newState = { ...(change.newState as JsonObject), flags: batch };
  }
  // A tag added that the instance-wide catalogue lacks is created there: two flags' changes adding
  // it at once would each read it as missing and record its creation.
  if (route.action === 'tag.add' || route.action === 'tag.update') change.exclusive = true;
  // The reach of a segment or context field is read from Unleash before the decision (see reach.ts).
  if (route.flagKeyFrom === 'segment' || route.flagKeyFrom === 'context') change.flags = [];
  // The one environment named, '*' for several or all, none when the change alters none.
  if (environments.length > 0) change.environment = environments.length === 1 ? environments[0]! : ALL_ENVIRONMENTS;
  if (params.project !== undefined) change.project = params.project;
  return { kind: 'write', change, forward };
}

function flagKeyOf(route: WriteRoute, params: Record<string, string>, body: WriteBody): string {
  const named = (): string => usableName(isObject(body) ? body.name : undefined, 'name');
  if (route.flagKeyFrom === 'body') return named();
  if (route.flagKeyFrom === 'segment') return `segment:${params.segment === undefined ? named() : segmentId(params.segment)}`;
  if (route.flagKeyFrom === 'context') return `context:${params.contextField ?? named()}`;
  const key = params.feature;
  if (key === undefined) throw new TypeError(`route ${route.pattern} yields no flag key`);
  return key;
}

/**
 * A segment's id as Unleash finds it: PostgreSQL reads the path's text as an integer, so `01` and
 * `+1` are segment 1, which an entry naming `segment:01` would not show. Only the integer's own
 * spelling is taken (PostgreSQL's integer range).
 */
function segmentId(text: string): string {
  if (/^[1-9][0-9]{0,9}$/.test(text) && Number(text) <= 2_147_483_647) return text;
  throw new FlaggateError('ADAPT_TARGET_REFUSED', `segment id ${JSON.stringify(text.slice(0, 64))} is not written as Unleash's segment ids are (an integer, no sign or leading zero): it is not forwarded`, {
    details: { segment: text.slice(0, 64) },
  });
}

/**
 * A batch operation (bulk toggle, batch archive, revive, delete, stale) is one decision over every
 * flag its `features` list names: all or nothing. Its flags, once each and sorted; the policy judges
 * each (a critical flag among them holds the whole batch for approval).
 */
function batchFlags(body: WriteBody): string[] {
  const features = isObject(body) ? body.features : undefined;
  if (!Array.isArray(features) || features.length === 0) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', 'body.features must name at least one flag', { details: { field: 'features' } });
  }
  const names = features.map((f: unknown, i) => usableName(f, `features[${i}]`));
  // Unleash applies a batch to each entry of the list, in parallel: a flag switched on twice without
  // an active strategy gets the default strategy twice.
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new FlaggateError('ADAPT_BODY_MALFORMED', `body.features must name each flag once (${JSON.stringify(repeated)} is named again)`, { details: { field: 'features' } });
  return names.sort();
}

/**
 * The environments the change can alter: none, every one (`*`), the path's, or the body's list.
 * (`environment` on the change keeps the single name, or `*` for anything else.)
 */
function environmentsOf(route: WriteRoute, params: Record<string, string>, body: WriteBody): string[] {
  switch (route.scope) {
    case 'named':
      return [params.environment!];
    case 'body': {
      const list = isObject(body) ? body.environments : undefined;
      if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e === 'string' && isUsableName(e))) {
        throw fieldMalformed('environments', 'a non-empty list of environment names');
      }
      // Unleash writes each entry of the list: one named twice fails its upsert after its events
      // were stored, and an entry that named it once would not be the request forwarded.
      const repeated = (list as string[]).find((e, i) => list.indexOf(e) !== i);
      if (repeated !== undefined) throw fieldMalformed('environments', `a list naming each environment once (${JSON.stringify(repeated)} is named again)`);
      return [...(list as string[])].sort();
    }
    case 'all':
      // A JSON Patch that only rewrites the description edits what the flag says, not what it serves.
      // (A PUT restates type and impression data, which default when absent: always every environment.)
      if (route.body === 'patch' && (body as PatchOperation[]).every(onlyDescription)) return [];
      return [ALL_ENVIRONMENTS];
    case 'none':
    case 'reach':
    case 'import':
      return [];
  }
}

/**
 * Unleash's feature update writes `archived` too (its schema takes it, and a string "true" reads as
 * true): a PUT or PATCH would archive the flag as a `flag.update`, past the archive route's own
 * checks (it refuses a flag others depend on). Archiving goes through the archive routes only.
 */
function refuseArchiving(route: WriteRoute, body: WriteBody): void {
  if (route.body === 'patch') {
    const touches = (pointer: unknown) => typeof pointer === 'string' && (pointer === '' || pointer === '/archived' || pointer.startsWith('/archived/'));
    if ((body as PatchOperation[]).some((op) => touches(op.path) || touches(op.from))) {
      throw fieldMalformed('patch', 'free of /archived (and of the whole document): archive a flag through DELETE …/features/{feature}');
    }
  } else if (isObject(body) && Object.hasOwn(body, 'archived') && body.archived !== false) {
    throw fieldMalformed('archived', 'absent or false: archive a flag through DELETE …/features/{feature}');
  }
}
