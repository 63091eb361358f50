/**
 * Classifies a request to a REST service by its mapping: a GET on a read route is a read, a write
 * on a write route a FlagChange whose fields come from the route, the body or the query as the
 * mapping says, anything else an unrecognized write (or, for a GET, a refused route). Pure.
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import type { Classification, FlagChange, FlagRead } from '../platform.js';
import { acceptMediaType, bodyMalformed, decidedRequest, formatQuery, parseQuery, parseStrictJson, requireNoBody, splitTarget, type DeclaredMediaType } from '../request/index.js';
import { FIELD_NAMES, folded, type ChangeField, type RestMapping, type Source, type WriteMapping } from './mapping.js';
import { fillRoute, matchRoute, requestSegments, routeParams, type RouteParam, type RouteTemplate } from './route.js';

export const PLATFORM = 'rest';
const KEY = /^[A-Za-z0-9_.:-]{1,256}$/;
const NONE = Symbol('none');

/** Throws ADAPT_TARGET_REFUSED, ADAPT_QUERY_REFUSED, ADAPT_ROUTE_UNKNOWN, ADAPT_MEDIA_TYPE_UNSUPPORTED, ADAPT_BODY_MALFORMED. */
export function classifyRest(mapping: RestMapping, req: RawRequest): Classification {
  const { path, query } = splitTarget(req.path);
  const segments = requestSegments(path);
  const method = req.method.toUpperCase();
  if (method === 'GET' || method === 'HEAD') {
    const reads = matches(mapping.reads, (route) => route, 'GET', segments, path);
    for (const { item: route, params } of reads) {
      refuseFormatSuffix(mapping, route, segments);
      // Read queries pass through, each key once and re-encoded: they change no flag.
      const q = parseQuery(query, (key) => /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/.test(key));
      const read: FlagRead = { platform: PLATFORM, action: 'flag.read' };
      if (params.flag !== undefined) read.flagKey = params.flag;
      if (params.environment !== undefined) read.environment = params.environment;
      if (params.project !== undefined) read.project = params.project;
      return { kind: 'read', read, forward: decidedRequest(method, fillRoute(route, params) + formatQuery(q), null, Buffer.alloc(0)) };
    }
    throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `${path} is not a read route of the mapping`, { details: { path } });
  }
  const [matched] = matches(mapping.writes, (write) => write.route, method, segments, path);
  if (matched) {
    refuseFormatSuffix(mapping, matched.item.route, segments);
    return writeOf(matched.item, req, matched.params, query);
  }
  return { kind: 'unrecognized', method, path, reason: `no mapped write route for ${method} ${path}` };
}

/**
 * The one mapped route that matches, with its parameters, or none. Routers differ on which of two
 * matching routes runs (Go's ServeMux and Werkzeug the most specific, Express, Starlette, Rails and
 * Laravel the first declared, Spring the fewest parameters): a request two match is refused.
 */
function matches<T>(items: readonly T[], routeOf: (item: T) => RouteTemplate, method: string, segments: readonly string[], path: string): Array<{ item: T; params: Partial<Record<RouteParam, string>> }> {
  const found = items.flatMap((item) => {
    const params = matchRoute(routeOf(item), method, segments);
    return params ? [{ item, params }] : [];
  });
  if (found.length > 1) {
    throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `${method} ${path} matches ${found.map((m) => routeOf(m.item).text).join(' and ')}: which one the service runs is not known`, { details: { path } });
  }
  return found;
}

function writeOf(write: WriteMapping, req: RawRequest, params: Partial<Record<RouteParam, string>>, query: string | null): Classification {
  const q = parseQuery(query, write.query);
  let body: unknown = NONE;
  let contentType: string | null = null;
  if (write.mediaType === null) requireNoBody(req);
  else {
    const declared: DeclaredMediaType = { type: write.mediaType, parameters: { charset: 'utf-8' }, forwardAs: write.mediaType };
    contentType = acceptMediaType(req.headers, [declared]);
    // The service's reader is not known: it may match keys regardless of case anywhere.
    body = parseStrictJson(req.body, { caseInsensitiveAt: () => true });
  }
  const field = (name: string, s: Source) => valueOf(name, s, params, q, body);
  const forward = decidedRequest(write.route.method, fillRoute(write.route, params) + formatQuery(q), contentType, contentType === null ? Buffer.alloc(0) : req.body);
  const change: FlagChange = {
    platform: PLATFORM,
    action: write.action,
    flagKey: field('flagKey', write.flagKey),
    environment: field('environment', write.environment),
    newState: newStateOf(write, body),
    request: { method: forward.method, path: forward.target, bodySha256: forward.bodySha256 },
  };
  if (write.project) change.project = field('project', write.project);
  refuseShadowingMembers(write, body, change);
  return { kind: 'write', change, forward };
}

/**
 * A router that takes a last segment's `.ext` as a format (Rails, DRF's format suffixes) reads
 * `checkout.json` as `checkout`: where the mapping says the service's does, a parameter there that
 * holds a dot is refused, for the entry would name another flag than the one changed.
 */
function refuseFormatSuffix(mapping: RestMapping, route: RouteTemplate, segments: readonly string[]): void {
  const last = route.parts.at(-1);
  if (!mapping.formatSuffixes || last === undefined || !('param' in last) || !segments.at(-1)!.includes('.')) return;
  throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `the service reads the ".${segments.at(-1)!.split('.').pop()!.slice(0, 16)}" ending of the last path segment as a format (formatSuffixes): {${last.param}} cannot hold a dot there`, { details: { path: `/${segments.join('/')}` } });
}

/**
 * Top-level body members some service frameworks read as something the entry takes from elsewhere:
 * `_method` (Laravel, with Symfony's method override, reads a POST body's member as its method), and
 * members named like the route's query parameters or parameters, or like the change's fields
 * (`FIELD_NAMES`): Laravel's `input()` and `$request->env` prefer the body's member to the query's
 * and the route's, a Spring DTO binds `environmentKey`. Matched regardless of case. Taken: a member
 * the mapping reads the field from; one that says what the entry says (`key` the recorded flag key,
 * as a whole flag sent back holds it), compared with the field the mapping takes from that name
 * first; one the mapping declares the service reads from the body only (`bodyMembers`); the member
 * that holds the new state when it is an object (no key a service reads); and, where the
 * environment is every one (`*`), environment names.
 */
function refuseShadowingMembers(write: WriteMapping, body: unknown, change: Pick<FlagChange, ChangeField>): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const members = body as Record<string, unknown>;
  // Exact names: a member in another case beside the one read is another member, checked as one.
  const firstStep = (pointer: string) => pointer.split('/')[1]!.replace(/~1/g, '/').replace(/~0/g, '~');
  const read = new Set([write.flagKey, write.environment, write.project].flatMap((s) => (s?.from === 'body' ? [firstStep(s.pointer)] : [])));
  for (const name of write.bodyMembers) read.add(name);
  const everywhere = write.environment.from === 'literal' && write.environment.value === '*';
  // What the mapping takes from a name comes first (a query parameter), then the usual meaning (route parameters' names among them).
  const fieldOf = new Map<string, ChangeField>(Object.entries(FIELD_NAMES));
  for (const field of ['flagKey', 'environment', 'project'] as const) {
    const s = write[field];
    if (s?.from === 'query') fieldOf.set(folded(s.name), field);
  }
  if (write.newState !== undefined) {
    const holder = firstStep(write.newState);
    const value = members[holder];
    if (typeof value === 'object' && value !== null && !Array.isArray(value) && fieldOf.get(folded(holder)) !== 'environment') read.add(holder);
  }
  const shadowed = new Set(['_method', ...[...fieldOf.keys(), ...write.query, ...routeParams(write.route)].map(folded)]);
  const taken = (key: string) => {
    const field = fieldOf.get(folded(key));
    return (field === 'environment' && everywhere) || (field !== undefined && members[key] === change[field]);
  };
  const member = Object.keys(members).find((key) => shadowed.has(folded(key)) && !read.has(key) && !taken(key));
  if (member !== undefined) {
    throw bodyMalformed(`the body member "${member.slice(0, 64)}" is refused: some services read it as ${folded(member) === '_method' ? 'the request\'s method' : 'what the change takes from the route, the query or the mapping'} (a member the service reads from the body only may be listed in the write's bodyMembers)`, member.slice(0, 64));
  }
}

/** A change field from its source; a key that is missing or not a plain key refuses the request. */
function valueOf(name: string, s: Source, params: Partial<Record<RouteParam, string>>, query: Record<string, string>, body: unknown): string {
  let value: unknown;
  if (s.from === 'literal') return s.value;
  if (s.from === 'param') value = params[s.name];
  else if (s.from === 'query') {
    value = query[s.name];
    if (value === undefined) throw new FlaggateError('ADAPT_QUERY_REFUSED', `this route needs the query parameter ${s.name} (the change's ${name})`, { details: { reason: `missing ${s.name}` } });
  } else value = atPointer(body, s.pointer);
  if (typeof value !== 'string' || !KEY.test(value)) {
    throw bodyMalformed(`the change's ${name} (${s.from === 'body' ? `body ${s.pointer}` : s.from}) must be a key: letters, digits, "_", ".", ":", "-"`, name);
  }
  return value;
}

function newStateOf(write: WriteMapping, body: unknown): unknown {
  if (body === NONE) return write.route.method === 'DELETE' ? { deleted: true } : null;
  if (write.newState === undefined) return body;
  const value = atPointer(body, write.newState);
  if (value === undefined) throw bodyMalformed(`the body has nothing at ${write.newState}, where the mapping reads the new state`, 'newState');
  // The whole body is forwarded: a member beside the new state would reach the service undecided.
  const pointers = [write.newState, ...[write.flagKey, write.environment, write.project].flatMap((s) => (s?.from === 'body' ? [s.pointer] : []))];
  const stray = strayMember(body, pointers);
  if (stray !== undefined) throw bodyMalformed(`the body holds ${stray}, outside ${write.newState} (the new state) and the members the mapping reads`, 'newState');
  return value;
}

/** The first member of `doc` on no pointer's path (all under a pointer's end is its value), as a pointer; else undefined. */
function strayMember(doc: unknown, pointers: readonly string[]): string | undefined {
  const walk = (node: unknown, depth: number, live: string[][], at: string): string | undefined => {
    if (live.some((p) => p.length === depth) || typeof node !== 'object' || node === null) return undefined;
    for (const key of Object.keys(node)) {
      const next = live.filter((p) => p[depth] === key);
      const here = `${at}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`;
      if (next.length === 0) return here;
      const found = walk((node as Record<string, unknown>)[key], depth + 1, next, here);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk(doc, 0, pointers.map((p) => p.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'))), '');
}

/** RFC 6901: the value at `pointer` in `doc`, or undefined. */
export function atPointer(doc: unknown, pointer: string): unknown {
  let node = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node) && /^(0|[1-9][0-9]*)$/.test(key)) node = node[Number(key)];
    else if (typeof node === 'object' && node !== null && !Array.isArray(node) && Object.hasOwn(node, key)) node = (node as Record<string, unknown>)[key];
    else return undefined;
  }
  return node;
}

export { KEY as REST_KEY };
