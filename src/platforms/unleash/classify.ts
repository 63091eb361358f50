/**
 * Turns a raw request to the Unleash API into a read, a recognized write (a FlagChange), or an
 * unrecognized write. Pure: no I/O, no clock.
 */
import normalizeUrl from 'normalize-url';
import { isDeepStrictEqual } from 'node:util';
import { FlaggateError } from '../../errors.js';
import type { Classification, DecidedRequest, FlagChange, FlagRead } from '../platform.js';
import type { RawRequest } from '../../intercept/index.js';
import { decidedRequest, formatQuery, parseQuery, splitTarget } from '../request/index.js';
import { importChange, parseImport } from './import.js';
import { refusalFor } from './refused.js';
import { refuseCoercedTypes } from './coerced-types.js';
import { storedVariants } from './variant-weights.js';
import { isObject, readJsonBody, requireNoBody, rolloutOf, storedConstraints, type JsonObject, type PatchOperation } from './body.js';
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
  let body: Body;
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
    newState: withQuery(newStateOf(route, params, body), query),
    // Exactly the request that is forwarded: rebuilt path and query, the forwarded body's digest.
    request,
  };
  if (batch) {
    change.flags = batch.map((flagKey) => ({ flagKey, project: params.project!, environments }));
    change.newState = { ...(change.newState as JsonObject), flags: batch };
  }
  // The reach of a segment or context field is read from Unleash before the decision (see reach.ts).
  if (route.flagKeyFrom === 'segment' || route.flagKeyFrom === 'context') change.flags = [];
  // The one environment named, '*' for several or all, none when the change alters none.
  if (environments.length > 0) change.environment = environments.length === 1 ? environments[0]! : ALL_ENVIRONMENTS;
  if (params.project !== undefined) change.project = params.project;
  return { kind: 'write', change, forward };
}

function flagKeyOf(route: WriteRoute, params: Record<string, string>, body: Body): string {
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

function usableName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUsableName(value)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `body.${field} must be a usable flag name`, { details: { field } });
  }
  return value;
}

/**
 * A batch operation (bulk toggle, batch archive, revive, delete, stale) is one decision over every
 * flag its `features` list names: all or nothing. Its flags, once each and sorted; the policy judges
 * each (a critical flag among them holds the whole batch for approval).
 */
function batchFlags(body: Body): string[] {
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
function environmentsOf(route: WriteRoute, params: Record<string, string>, body: Body): string[] {
  switch (route.scope) {
    case 'named':
      return [params.environment!];
    case 'body': {
      const list = isObject(body) ? body.environments : undefined;
      if (!Array.isArray(list) || list.length === 0 || !list.every((e) => typeof e === 'string' && isUsableName(e))) {
        throw fieldMalformed('environments', 'a non-empty list of environment names');
      }
      return [...new Set(list as string[])].sort();
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

type Body = JsonObject | JsonObject[] | PatchOperation[] | undefined;

/**
 * Unleash's feature update writes `archived` too (its schema takes it, and a string "true" reads as
 * true): a PUT or PATCH would archive the flag as a `flag.update`, past the archive route's own
 * checks (it refuses a flag others depend on). Archiving goes through the archive routes only.
 */
function refuseArchiving(route: WriteRoute, body: Body): void {
  if (route.body === 'patch') {
    const touches = (pointer: unknown) => typeof pointer === 'string' && (pointer === '' || pointer === '/archived' || pointer.startsWith('/archived/'));
    if ((body as PatchOperation[]).some((op) => touches(op.path) || touches(op.from))) {
      throw fieldMalformed('patch', 'free of /archived (and of the whole document): archive a flag through DELETE …/features/{feature}');
    }
  } else if (isObject(body) && Object.hasOwn(body, 'archived') && body.archived !== false) {
    throw fieldMalformed('archived', 'absent or false: archive a flag through DELETE …/features/{feature}');
  }
}

/**
 * An operation that writes the description and nothing else. `move` and `copy` read another member
 * (`from`), and a `move` removes it: Unleash then validates the patched flag with its defaults, so
 * moving `/type` onto `/description` also resets the type to `release` (and `stale` and
 * `impressionData` to false).
 */
function onlyDescription(op: PatchOperation): boolean {
  return DESCRIPTION_OPS.has(op.op) && op.path === '/description' && !Object.hasOwn(op, 'from');
}

const DESCRIPTION_OPS = new Set(['add', 'replace', 'remove', 'test']);

function newStateOf(route: WriteRoute, params: Record<string, string>, body: Body): unknown {
  const patch = route.body === 'patch' ? { patch: body } : undefined;
  const object = (isObject(body) ? body : {}) as JsonObject;
  switch (route.action) {
    case 'flag.enable':
      return { enabled: true };
    case 'flag.disable':
      return { enabled: false };
    case 'flag.archive':
      // Unleash deletes an archived flag's dependencies on its parents; a revive leaves it with none.
      return { archived: true, dependencies: [] };
    case 'flag.revive':
      // Unleash revives a flag switched off in every environment, whatever it was when archived.
      return { archived: false, enabled: false };
    case 'flag.delete':
      return { deleted: true };
    case 'flag.create':
      return createdFlag(object, params.feature);
    case 'flag.update':
      if (patch) checkMetadataPatch(body as PatchOperation[]);
      return patch ?? updatedMetadata(object, params.feature!);
    case 'segment.create':
    case 'segment.update':
      return segmentAsStored(object, route.action === 'segment.create');
    case 'flag.stale':
      if (typeof object.stale !== 'boolean') throw fieldMalformed('stale', 'a boolean');
      return { stale: object.stale };
    case 'flag.complete':
      if (typeof object.status !== 'string') throw fieldMalformed('status', 'a string');
      return { completed: true, ...object };
    case 'flag.uncomplete':
      return { completed: false };
    case 'strategy.delete':
      return { id: params.strategyId, deleted: true };
    case 'strategy.create':
      return normalizeStrategy(object, 'create', params.feature!);
    case 'strategy.update':
      // The id from the path wins over any id in the body: it is the strategy Unleash will change.
      if (patch) checkPatchedRollout(body as PatchOperation[]);
      return patch ? { id: params.strategyId, ...patch } : { ...normalizeStrategy(object, 'update', params.feature!), id: params.strategyId };
    case 'strategy.reorder':
      return { order: sortOrders(body as JsonObject[]) };
    case 'variants.update':
      return variantsOf(route, params, body);
    case 'dependency.add':
      return dependencyOf(object);
    case 'dependency.delete':
      // Without a parent in the path, Unleash removes every dependency of the flag.
      return { removed: params.parent ?? '*' };
    case 'link.create':
      onlyLinkMembers(object);
      return { url: linkUrl(object), title: object.title ?? null };
    case 'link.update':
      onlyLinkMembers(object);
      // Unleash's update leaves a title it is not sent as it was (the previous state's links show it).
      return { id: params.linkId, url: linkUrl(object), ...(object.title === undefined ? {} : { title: object.title }) };
    case 'link.delete':
      return { id: params.linkId, deleted: true };
    case 'tag.add':
      if (typeof object.type !== 'string' || typeof object.value !== 'string') throw fieldMalformed('type and value', 'strings');
      requireTagValue(object.value, 'value');
      return { added: [{ type: object.type, value: object.value }], removed: [] };
    case 'tag.update':
      return tagsUpdated(tagList(object, 'addedTags'), tagList(object, 'removedTags'));
    case 'tag.delete':
      return { added: [], removed: [{ type: params.tagType, value: params.tagValue }] };
    case 'segment.delete':
    case 'context.delete':
      return { deleted: true };
    case 'context.create':
      return contextFieldAsCreated(object, params.project);
    case 'context.update':
      if (params.legalValue !== undefined) return { removedLegalValue: params.legalValue };
      if (route.pattern.endsWith('/legal-values')) return { legalValue: object };
      return contextFieldAsUpdated(object, params.contextField!);
    default:
      return patch ?? body;
  }
}

/**
 * A segment as Unleash's store writes it: its name, description, constraints (each with the
 * `values` list its validator defaults) and project, one left out or empty stored as none (a
 * segment every project may use); a create also its `id` when the body gives one. Nothing else of
 * the body (a `createdBy`: Unleash names the caller) is stored. An update without a description
 * keeps the segment's own; a create stores none.
 */
function segmentAsStored(object: JsonObject, create: boolean): JsonObject {
  const { id, name, description, constraints } = object;
  // Its schema does not declare an id, so nothing converts one: PostgreSQL reads "00534" as 534.
  if (create && id !== undefined && !(Number.isInteger(id) && (id as number) > 0 && (id as number) <= 2_147_483_647)) {
    throw fieldMalformed('id', 'absent, or a positive integer written as a number (PostgreSQL reads other spellings as another id)');
  }
  return {
    ...(create && id !== undefined ? { id } : {}),
    name,
    ...(description !== undefined ? { description } : create ? { description: null } : {}),
    constraints: storedConstraints(constraints),
    project: object.project || null,
  };
}

/**
 * A context field as Unleash's create stores it: the body's members its store writes, a missing
 * `stickiness` as false, `sortOrder` as 0, `legalValues` as none and description as none; under a
 * project's path the field is that project's whatever the body says, else the body's project
 * (none: a field every project may use, which Unleash's read leaves out too).
 */
function contextFieldAsCreated(object: JsonObject, pathProject: string | undefined): JsonObject {
  const project = pathProject ?? (typeof object.project === 'string' && object.project !== '' ? object.project : undefined);
  return {
    name: object.name,
    description: object.description ?? null,
    legalValues: Array.isArray(object.legalValues) ? object.legalValues : [],
    stickiness: object.stickiness === true,
    sortOrder: typeof object.sortOrder === 'number' ? object.sortOrder : 0,
    ...(project !== undefined ? { project } : {}),
  };
}

/**
 * A context field as Unleash's update stores it: its validation drops `sortOrder` (stored as 0) and
 * anything else it does not know, and its store writes a missing `stickiness` as false and missing
 * `legalValues` as none; a missing description or project is left as it is. The name is the path's.
 */
function contextFieldAsUpdated(object: JsonObject, name: string): JsonObject {
  const { description, project } = object;
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    legalValues: Array.isArray(object.legalValues) ? object.legalValues : [],
    stickiness: object.stickiness === true,
    sortOrder: 0,
    ...(typeof project === 'string' && project !== '' ? { project } : {}),
  };
}

/**
 * A dependency as Unleash stores it. Its validator coerces a body to the schema's types before the
 * handler reads it (`"enabled": null` or `"false"` becomes false: the child then serves where the
 * parent is off), so only the types it would not touch are taken; and it drops the variants of a
 * dependency on a disabled parent.
 */
function dependencyOf(object: JsonObject): JsonObject {
  const { enabled = true, variants = [] } = object;
  if (typeof enabled !== 'boolean') throw fieldMalformed('enabled', 'absent or a boolean');
  if (!Array.isArray(variants) || !variants.every((v) => typeof v === 'string')) throw fieldMalformed('variants', 'absent or a list of strings');
  return { parent: usableName(object.feature, 'feature'), enabled, variants: enabled ? variants : [] };
}

function sortOrders(list: JsonObject[]): Array<{ id: string; sortOrder: number }> {
  const seen = new Set<string>();
  return list.map((item, i) => {
    if (typeof item.id !== 'string' || typeof item.sortOrder !== 'number' || !Number.isInteger(item.sortOrder)) {
      throw fieldMalformed(`[${i}]`, 'an object with a string id and an integer sortOrder');
    }
    // Unleash writes them in turn, so the last of a strategy's orders wins; the entry would list both.
    if (seen.has(item.id)) throw fieldMalformed(`[${i}].id`, 'a strategy named once');
    seen.add(item.id);
    return { id: item.id, sortOrder: item.sortOrder };
  });
}

/**
 * A link's URL as Unleash stores it: normalized by normalize-url (the version and options Unleash
 * uses), which drops `www.`, credentials and `utm_` parameters, sorts the query and gives a bare
 * host `https://`; one it cannot normalize Unleash refuses, and so does flaggate.
 */
function linkUrl(object: JsonObject): string {
  if (typeof object.url !== 'string' || object.url === '') throw fieldMalformed('url', 'a non-empty string');
  try {
    return normalizeUrl(object.url, { defaultProtocol: 'https' });
  } catch {
    throw fieldMalformed('url', 'a URL Unleash can normalize');
  }
}

/**
 * Unleash's link store writes every member of the body as a column of the link's row: an `id`
 * renames the link (the entry would name one that is gone). Only the URL and title are taken.
 */
function onlyLinkMembers(object: JsonObject): void {
  const other = Object.keys(object).find((k) => k !== 'url' && k !== 'title');
  if (other !== undefined) throw fieldMalformed(other, 'absent: a link is written with its url and title only (Unleash writes any other member into the link as it stands)');
}

/**
 * A tag value as Unleash's tag check takes it: 2 to 50 UTF-16 units (an emoji counts 2). The
 * request's schema counts characters, and a tag update that fails the check in the middle has
 * added the tags before it.
 */
function requireTagValue(value: string, field: string): void {
  if (value.length < 2 || value.length > 50) throw fieldMalformed(field, 'a tag value of 2 to 50 UTF-16 units, as Unleash counts them');
}

function tagList(object: JsonObject, field: string): Array<{ type: string; value: string }> {
  const list = object[field];
  if (!Array.isArray(list)) throw fieldMalformed(field, 'an array');
  return list.map((t: unknown) => {
    if (!isObject(t) || typeof t.type !== 'string' || typeof t.value !== 'string') throw fieldMalformed(field, 'a list of {type, value}');
    requireTagValue(t.value, field);
    return { type: t.type, value: t.value };
  });
}

/**
 * A tag update as Unleash applies it: each added tag once, then each removed tag once. A tag both
 * added and removed is refused: Unleash would put it into the instance-wide tag catalogue (or fail
 * on its type) while the flag ends without it, which an entry of the flag's tags would not show.
 */
function tagsUpdated(added: Array<{ type: string; value: string }>, removed: Array<{ type: string; value: string }>): JsonObject {
  const key = (t: { type: string; value: string }) => `${t.type}\u0000${t.value}`;
  const once = (list: Array<{ type: string; value: string }>) => [...new Map(list.map((t) => [key(t), t])).values()];
  const gone = new Set(removed.map(key));
  const both = added.find((t) => gone.has(key(t)));
  if (both) throw fieldMalformed('addedTags', `free of tags also in removedTags (${both.type}:${both.value}): Unleash would add it to the tag catalogue, then take it off the flag`);
  return { added: once(added), removed: once(removed) };
}

/** A new flag as Unleash stores it: a clone copies the source's type, strategies and variants, so the source is part of what is created. */
function createdFlag(object: JsonObject, cloneOf: string | undefined): JsonObject {
  // Unleash's clone reads the name and `replaceGroupId` and nothing else of the body: the flag is the source's copy.
  if (cloneOf !== undefined) return { name: object.name, ...(object.replaceGroupId !== undefined ? { replaceGroupId: object.replaceGroupId } : {}), cloneOf };
  refuseCreatedAside(object);
  // Unleash's validator drops what its schema does not list (an `enabled`, `strategies`, a
  // `project`: the path's is the flag's) and defaults the rest; its store writes an empty
  // description as none.
  // Its create schema does not declare `stale`, so no type check before it converts one ("false").
  if (object.stale !== undefined && typeof object.stale !== 'boolean') throw fieldMalformed('stale', 'a boolean');
  // Unleash stores the body's creator over the caller it knows: the flag would be attributed to
  // whoever the body names, in Unleash's records and its UI.
  if (Object.hasOwn(object, 'createdByUserId')) throw fieldMalformed('createdByUserId', "absent on a create: Unleash would attribute the flag to the user it names instead of flaggate's credential");
  const kept = membersIn(object, CREATE_MEMBERS);
  // A creation time left empty is the time of the create; tags are each stored once.
  if (kept.createdAt === undefined || kept.createdAt === null || kept.createdAt === '') delete kept.createdAt;
  else kept.createdAt = storedCreatedAt(kept.createdAt);
  if (Array.isArray(kept.tags)) kept.tags = uniqueTags(kept.tags);
  return { ...kept, type: object.type ?? 'release', impressionData: object.impressionData ?? false, stale: object.stale ?? false, description: object.description || null };
}

/**
 * A creation time as Unleash's validator (Joi's date) reads it and its store writes it: an ISO 8601
 * instant, stored to the millisecond. A number, or text of digits only, Joi reads as milliseconds
 * since 1970 (JavaScript's own reading of "1" is the year 2001): refused, as is any other spelling.
 */
function storedCreatedAt(value: unknown): string {
  // A time without its offset is read in the reader's own time zone (flaggate's and Unleash's may
  // differ); a date alone reads as UTC midnight to both.
  const readable = typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
  if (!readable) throw fieldMalformed('createdAt', 'an ISO 8601 date, or date and time with its offset (Z or ±hh:mm), or absent');
  return new Date(value as string).toISOString();
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Tags as Unleash stores them on a flag: each (type, value) once, the first written kept. */
function uniqueTags(tags: unknown[]): unknown[] {
  const seen = new Set<string>();
  return tags.filter((t) => {
    const key = isObject(t) ? JSON.stringify([t.type, t.value]) : JSON.stringify(t);
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** The members of a create Unleash's validator keeps (`featureMetadataSchema`). */
const CREATE_MEMBERS = new Set(['name', 'stale', 'archived', 'type', 'description', 'impressionData', 'createdAt', 'variants', 'tags']);

/** Variants as Unleash stores them: a patch as sent (checked), a list reweighted; variants-batch fills in its defaults first. */
function variantsOf(route: WriteRoute, params: Record<string, string>, body: Body): JsonObject {
  if (route.body === 'patch') {
    checkVariantsPatch(body as PatchOperation[], '');
    return { patch: body };
  }
  if (route.scope === 'named') return { variants: storedVariants(body as JsonObject[]) };
  const object = (isObject(body) ? body : {}) as JsonObject;
  // Without a list, Unleash clears the variants.
  if (object.variants !== undefined && !Array.isArray(object.variants)) throw fieldMalformed('variants', 'an array');
  return {
    variants: storedVariants(((object.variants ?? []) as unknown[]).map((v: unknown) => (isObject(v) ? { weightType: 'variable', stickiness: 'default', ...v } : v))),
    environments: environmentsOf(route, params, body),
  };
}

/**
 * A feature's metadata as Unleash's update stores it: its validator defaults `type` to release and
 * `stale` and `impressionData` to false, and its store writes a missing or empty description as
 * none. A PUT that leaves them out resets them, and the entry says so. The name is the path's.
 */
function updatedMetadata(object: JsonObject, name: string): JsonObject {
  // Its store writes nothing else (an `enabled`, `variants`, a `project`, `tags` are dropped).
  return { name, type: object.type ?? 'release', stale: object.stale ?? false, impressionData: object.impressionData ?? false, description: object.description || null };
}

/**
 * Unleash's create takes two members its schema does not list and acts on them outside any
 * environment the change names: `variants`, written into every environment unchecked, and
 * `archived`, which creates the flag archived. Neither is taken here.
 */
function refuseCreatedAside(object: JsonObject): void {
  if (Object.hasOwn(object, 'variants') && !(Array.isArray(object.variants) && object.variants.length === 0)) {
    throw fieldMalformed('variants', 'absent on a create: Unleash writes them into every environment; set them through PUT …/features/{feature}/variants-batch');
  }
  if (Object.hasOwn(object, 'archived') && object.archived !== false) throw fieldMalformed('archived', 'absent or false on a create');
}

/**
 * A strategy with its lists present, its variants as Unleash stores them and its rollout as a
 * number: Unleash sends `rollout` as a string parameter ("25"), which policies should not have to
 * parse. An update without `segments` keeps the strategy's segments (none is recorded: the previous
 * state shows them), as it keeps a `title` or `disabled` sent as null; one without `variants` clears them.
 */
function normalizeStrategy(given: JsonObject, kind: 'create' | 'update', flagKey: string): JsonObject {
  // Without a name, Unleash's update keeps the strategy's own and fills in none of the parameters
  // that name's kind gets (a flexible rollout's stickiness and group), which the entry could not show.
  if (kind === 'update' && (typeof given.name !== 'string' || given.name === '')) {
    throw fieldMalformed('name', "set on a strategy update: Unleash keeps the strategy's own name without one and skips the parameters that name fills in");
  }
  const body = strategyMembers(given);
  const { parameters = {}, constraints = [], variants = [] } = body;
  if (!isObject(parameters)) throw fieldMalformed('parameters', 'an object');
  if (!Array.isArray(constraints)) throw fieldMalformed('constraints', 'an array');
  if (body.segments !== undefined && !Array.isArray(body.segments)) throw fieldMalformed('segments', 'an array');
  if (Array.isArray(body.segments) && new Set(body.segments).size !== body.segments.length) throw fieldMalformed('segments', 'a list naming each segment once (Unleash stores each once)');
  if (!Array.isArray(variants)) throw fieldMalformed('variants', 'an array');
  // `rollout` is derived only; a top-level one from the client would mislead the policy.
  const { rollout: _ignored, ...rest } = body;
  const out: JsonObject = { ...rest, parameters, constraints: storedConstraints(constraints), variants: storedVariants(variants) };
  if (kind === 'create' || body.segments !== undefined) out.segments = body.segments ?? [];
  // Unleash's update leaves a member sent as null as it was: recorded as absent, like one not sent.
  if (kind === 'update') for (const member of ['title', 'disabled'] as const) if (out[member] === null) delete out[member];
  // Nor does it write a sort order (set-sort-order does): an update's would be recorded, never applied.
  if (kind === 'update') delete out.sortOrder;
  if (parameters.rollout !== undefined) out.rollout = rolloutOf(parameters.rollout);
  // Unleash stores a flexible rollout without one as "100".
  else if (body.name === 'flexibleRollout') out.rollout = 100;
  // And one without a group as grouped by the flag's name: the group decides which users are in.
  if (body.name === 'flexibleRollout' && !parameters.groupId) out.parameters = { ...parameters, groupId: flagKey };
  // Without a stickiness it takes the project's default, which the entry could not show.
  if (body.name === 'flexibleRollout' && !parameters.stickiness) throw fieldMalformed('parameters.stickiness', `set on a flexible rollout ("default" unless the project sets another): Unleash takes the project's default stickiness for one left empty`);
  return out;
}

/**
 * The members of a strategy body Unleash acts on (its `standardizeStrategyConfig`, and `segments`
 * apart); anything else (an `id`, a `featureName`, `segmentIds`) it drops, and the entry leaves out.
 */
function strategyMembers(body: JsonObject): JsonObject {
  return membersIn(body, STRATEGY_MEMBERS);
}

/** The members of `object` named in `names`: what a validator that drops unknown members keeps. */
function membersIn(object: JsonObject, names: ReadonlySet<string>): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([name]) => names.has(name)));
}

const STRATEGY_MEMBERS = new Set(['name', 'title', 'disabled', 'sortOrder', 'constraints', 'variants', 'parameters', 'segments']);

/**
 * A JSON Patch of a strategy that writes its rollout writes one every evaluator reads alike: a value
 * for `/parameters/rollout`, or `/parameters` as a whole, is checked; a rollout copied or moved from
 * elsewhere, or the whole document replaced, cannot be, and is refused.
 */
function checkPatchedRollout(patch: PatchOperation[]): void {
  checkVariantsPatch(patch, '/variants');
  for (const op of patch) {
    // Unleash's update leaves these as they were when the patched strategy has them null or absent.
    const kept = KEPT_WHEN_EMPTY.has(op.path) && (op.op === 'remove' || ((op.op === 'add' || op.op === 'replace') && op.value === null));
    if (kept || (op.op === 'move' && typeof op.from === 'string' && KEPT_WHEN_EMPTY.has(op.from))) {
      throw fieldMalformed('patch', `free of ${op.op === 'move' ? `a move out of ${String(op.from)}` : `${op.path} removed or written as null`}: Unleash keeps the strategy's own then, not what the patch says`);
    }
    const copied = op.op === 'move' || op.op === 'copy';
    // Unleash stores a flexible rollout left without a rollout as 100%, without a stickiness as the
    // project's default, without a group as grouped by the flag's name.
    const defaulted = (path: unknown) => path === '/parameters' || (typeof path === 'string' && DEFAULTED_PARAMETERS.has(path));
    const removed = op.op === 'remove' || (op.op === 'move' && defaulted(op.from));
    if (op.path === '' || (copied && defaulted(op.path)) || (removed && (defaulted(op.path) || op.op === 'move'))) {
      throw fieldMalformed('patch', 'free of a rollout, stickiness or group copied, moved or removed, and of the whole strategy replaced: write /parameters/rollout, /parameters/stickiness or /parameters/groupId as a value');
    }
    if (op.path === '/sortOrder' && op.op !== 'test') throw fieldMalformed('patch', 'free of /sortOrder: a strategy update does not write it (reorder through …/strategies/set-sort-order)');
    // The strategy's name decides which parameters Unleash fills in: written as a value, so the state check can follow it.
    if (copied && op.path === '/name') throw fieldMalformed('patch', 'free of a name copied or moved in: write /name as a value');
    checkPatchedConstraints(op);
    checkPatchedSegments(op);
    // Unleash stores only these members of the patched strategy (an `/id` or `/featureName` written is ignored).
    const member = op.path.split('/')[1];
    if (op.op !== 'test' && member !== undefined && !STRATEGY_MEMBERS.has(member)) {
      throw fieldMalformed('patch', `free of /${member}: Unleash stores only ${[...STRATEGY_MEMBERS].join(', ')} of a patched strategy and ignores the rest`);
    }
    if (op.path === '/parameters/rollout' && Object.hasOwn(op, 'value')) rolloutOf(op.value);
    if (op.path === '/parameters' && isObject(op.value) && op.value.rollout !== undefined) rolloutOf(op.value.rollout);
  }
}

/**
 * Unleash's validator gives a constraint without `values` an empty list, which a patch recorded as
 * sent would not show: constraints a patch writes must carry theirs, and a constraint's `values`
 * may not be removed, or a constraint copied or moved in from outside the constraints.
 */
function checkPatchedConstraints(op: PatchOperation): void {
  const from = typeof op.from === 'string' ? op.from : undefined;
  const lacksValues = (c: unknown) => !isObject(c) || !Array.isArray(c.values);
  const written = op.op === 'add' || op.op === 'replace';
  const writtenWithout = written && (op.path === '/constraints' ? Array.isArray(op.value) && op.value.some(lacksValues) : ONE_CONSTRAINT.test(op.path) && lacksValues(op.value));
  const isConstraints = (pointer: string | undefined) => pointer !== undefined && (pointer === '/constraints' || ONE_CONSTRAINT.test(pointer));
  const fromOutside = (op.op === 'copy' || op.op === 'move') && isConstraints(op.path) && !isConstraints(from);
  const valuesRemoved = (op.op === 'remove' && CONSTRAINT_VALUES.test(op.path)) || (op.op === 'move' && from !== undefined && CONSTRAINT_VALUES.test(from));
  if (writtenWithout || fromOutside || valuesRemoved) {
    throw fieldMalformed('patch', "free of constraints without a values list (give each its values, [] for none): Unleash's validator adds an empty one, which the patch would not show");
  }
}

/**
 * Unleash adds a strategy's segments it does not have and removes the others: one added again, or
 * named twice, is stored once, which a patch recorded as sent would not show. A patch writes the
 * segments as a whole list, each once.
 */
function checkPatchedSegments(op: PatchOperation): void {
  if (op.op === 'test') return;
  const touches = (pointer: unknown) => typeof pointer === 'string' && pointer.startsWith('/segments/');
  const repeated = op.path === '/segments' && Array.isArray(op.value) && new Set(op.value).size !== op.value.length;
  if (touches(op.path) || touches(op.from) || repeated || (op.path === '/segments' && (op.op === 'copy' || op.op === 'move'))) {
    throw fieldMalformed('patch', 'writing /segments as a whole list of values, each segment once (Unleash stores a segment named again once)');
  }
}

const ONE_CONSTRAINT = /^\/constraints\/(?:-|0|[1-9][0-9]*)$/;
const CONSTRAINT_VALUES = /^\/constraints\/[^/]+\/values$/;

/** A flexible rollout's parameters Unleash fills in when they are left empty. */
const DEFAULTED_PARAMETERS = new Set(['/parameters/rollout', '/parameters/stickiness', '/parameters/groupId']);

/** A strategy's members Unleash's update leaves as they were when the patched strategy has them null or absent. */
const KEPT_WHEN_EMPTY = new Set(['/title', '/disabled', '/name', '/parameters', '/segments']);

/** The members of a feature a patch may write, and the type Unleash's update keeps each in. */
const METADATA_TYPES: Record<string, (v: unknown) => boolean> = {
  '/type': (v) => typeof v === 'string',
  '/stale': (v) => typeof v === 'boolean',
  '/impressionData': (v) => typeof v === 'boolean',
  '/description': (v) => typeof v === 'string' || v === null,
};

/**
 * Unleash applies a feature's patch, then runs the result through its validator, which converts
 * (`"true"` is true) and fills in defaults (a removed type is `release`) before storing it. Patch
 * values are free JSON to its schema, so the types are checked here: each of these members is
 * written in place with a value of its type, never removed, copied or moved in or out.
 */
function checkMetadataPatch(patch: PatchOperation[]): void {
  for (const op of patch) {
    if (op.op === 'test') continue;
    const typed = METADATA_TYPES[op.path];
    // Unleash stores the patched document through its update, which writes these members only.
    if (!typed) throw fieldMalformed('patch', `free of ${op.path || 'the whole document'}: Unleash stores only the description, type, stale and impressionData of a patched flag and ignores the rest`);
    // A description removed is none, as the entry's patch reads; one copied or moved in is a member's string, or refused by Unleash.
    const loose = op.path === '/description' && (op.op === 'remove' || op.op === 'copy' || op.op === 'move');
    if (typed && !loose && !((op.op === 'add' || op.op === 'replace') && typed(op.value))) {
      throw fieldMalformed('patch', `written as a ${op.path.slice(1)} value of its own type at ${op.path} (Unleash converts or resets anything else)`);
    }
    // Unleash's store writes an empty description as none: the patch would read otherwise.
    if (op.path === '/description' && op.value === '' && (op.op === 'add' || op.op === 'replace')) {
      throw fieldMalformed('patch', 'free of an empty /description: Unleash stores it as none (write null or remove it)');
    }
    if (typeof op.from === 'string' && op.from in METADATA_TYPES && op.op === 'move') {
      throw fieldMalformed('patch', `free of a move out of ${op.from} (Unleash resets it to its default)`);
    }
  }
}

/**
 * Variants written by a patch are reweighted and sorted after it applies (see ./variant-weights.ts),
 * so a patch that adds, removes or replaces variants, or writes a weight, would be stored otherwise
 * than it reads. Allowed: the whole list (at `base`) written as Unleash stores it, and members of one
 * variant other than its weight.
 */
function checkVariantsPatch(patch: PatchOperation[], base: string): void {
  const reweighted = (pointer: unknown): boolean => {
    if (typeof pointer !== 'string' || !(pointer === base || pointer.startsWith(`${base}/`))) return false;
    const rest = pointer.slice(base.length).split('/').slice(1);
    // A name decides the order Unleash sorts the list into, and so which users get which variant:
    // a strategy's variants are not in the state read, so a rename there writes the whole list.
    return rest.length <= 1 || rest[1] === 'weight' || rest[1] === 'weightType' || (base !== '' && rest[1] === 'name');
  };
  for (const op of patch) {
    if (op.op === 'test') continue;
    // Unleash checks a patched list's types without converting them, then shares out the weights
    // from what was sent: a `fix` weight written as "0" is summed as text and stored as text.
    const integerWeights = Array.isArray(op.value) && op.value.every((v: unknown) => isObject(v) && Number.isInteger(v.weight));
    const wholeAsStored = (op.op === 'add' || op.op === 'replace') && op.path === base && Array.isArray(op.value) && integerWeights && isDeepStrictEqual(storedVariants(op.value), op.value);
    if ((reweighted(op.path) && !wholeAsStored) || (op.op === 'move' && reweighted(op.from))) {
      throw fieldMalformed('patch', `free of variants added, removed or reweighted one by one: write the whole list at ${base || '""'} as Unleash stores it (variable weights shared out, sorted by name)`);
    }
  }
}

function fieldMalformed(field: string, want: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be ${want}`, { details: { field } });
}
