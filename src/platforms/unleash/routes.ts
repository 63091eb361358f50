/**
 * The Unleash admin API writes flaggate understands (checked against unleash-server 8.2's controllers
 * and its OpenAPI document; see ./refused.ts for what is refused and why), and the
 * path splitting they are matched with. Matching follows Express as Unleash configures it: literal
 * segments are case-insensitive, one trailing slash is ignored, parameters are percent-decoded.
 */
import { FlaggateError } from '../../errors.js';

/**
 * What the body of a write must be: a JSON object, an RFC 6902 JSON Patch array, a JSON array of
 * objects (variants, sort orders), or nothing read.
 */
export type BodyKind = 'object' | 'patch' | 'array' | 'none';

/**
 * Which environments a change can alter: `none` (a new flag, disabled everywhere; descriptive
 * metadata), `all` (what every environment evaluates: archive, type, dependencies…), `named` (the
 * `:environment` of the path), `body` (the `environments` list of the body), or `reach` (every
 * flag and environment whose strategies use the segment or context field, read from Unleash), or
 * `import` (the import's `environment`, or every one for a flag whose type it changes: ./import.ts).
 */
export type EnvironmentScope = 'none' | 'all' | 'named' | 'body' | 'reach' | 'import';

export interface WriteRoute {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/`-separated; `:name` is a parameter. */
  pattern: string;
  action: string;
  body: BodyKind;
  /**
   * `path`: the `:feature` parameter; `body`: the JSON body's `name`; `features`: the body's
   * `features` list, every flag a batch alters; `segment`/`context`: the segment or context field
   * (`segment:<id>`, `context:<name>`), whose reach is read from Unleash; `import`: every flag
   * of an import's payload (./import.ts).
   */
  flagKeyFrom: 'path' | 'body' | 'features' | 'segment' | 'context' | 'import';
  scope: EnvironmentScope;
  /** Query parameters Unleash's controller reads for this route; any other is refused. */
  query?: readonly string[];
  /**
   * Query parameters Unleash's UI sends on this route and its controller does not read: taken (each
   * once, as strictly as the others), neither forwarded nor recorded.
   */
  ignoredQuery?: readonly string[];
}

/** A POST that changes nothing (Unleash's `validate*` operations): forwarded as a read. */
export interface ReadRoute {
  method: 'POST';
  pattern: string;
  body: 'object';
}

const FEATURES = '/api/admin/projects/:project/features';
const FEATURE = `${FEATURES}/:feature`;
const ENV = `${FEATURE}/environments/:environment`;
const STRATEGY = `${ENV}/strategies/:strategyId`;
const TAGS = '/api/admin/features/:feature/tags';
const BULK = '/api/admin/projects/:project/bulk_features/environments/:environment';

/** Every recognized write. Any other POST, PUT, PATCH or DELETE is an unrecognized write. */
export const writeRoutes: readonly WriteRoute[] = [
  { method: 'POST', pattern: FEATURES, action: 'flag.create', body: 'object', flagKeyFrom: 'body', scope: 'none' },
  { method: 'PUT', pattern: FEATURE, action: 'flag.update', body: 'object', flagKeyFrom: 'path', scope: 'all' },
  { method: 'PATCH', pattern: FEATURE, action: 'flag.update', body: 'patch', flagKeyFrom: 'path', scope: 'all' },
  { method: 'DELETE', pattern: FEATURE, action: 'flag.archive', body: 'none', flagKeyFrom: 'path', scope: 'all' },
  { method: 'DELETE', pattern: '/api/admin/archive/:feature', action: 'flag.delete', body: 'none', flagKeyFrom: 'path', scope: 'all' },
  { method: 'POST', pattern: '/api/admin/archive/revive/:feature', action: 'flag.revive', body: 'none', flagKeyFrom: 'path', scope: 'all' },
  { method: 'POST', pattern: `${ENV}/on`, action: 'flag.enable', body: 'none', flagKeyFrom: 'path', scope: 'named', query: ['shouldActivateDisabledStrategies'] },
  { method: 'POST', pattern: `${ENV}/off`, action: 'flag.disable', body: 'none', flagKeyFrom: 'path', scope: 'named', ignoredQuery: ['shouldActivateDisabledStrategies'] },
  { method: 'POST', pattern: `${ENV}/strategies`, action: 'strategy.create', body: 'object', flagKeyFrom: 'path', scope: 'named' },
  { method: 'PUT', pattern: STRATEGY, action: 'strategy.update', body: 'object', flagKeyFrom: 'path', scope: 'named' },
  { method: 'PATCH', pattern: STRATEGY, action: 'strategy.update', body: 'patch', flagKeyFrom: 'path', scope: 'named' },
  { method: 'DELETE', pattern: STRATEGY, action: 'strategy.delete', body: 'none', flagKeyFrom: 'path', scope: 'named' },
  // The clone is a new flag (disabled everywhere until enabled, like any create); `name` is the clone's.
  { method: 'POST', pattern: `${FEATURE}/clone`, action: 'flag.create', body: 'object', flagKeyFrom: 'body', scope: 'none' },
  { method: 'POST', pattern: `${ENV}/strategies/set-sort-order`, action: 'strategy.reorder', body: 'array', flagKeyFrom: 'path', scope: 'named' },
  { method: 'PUT', pattern: `${ENV}/variants`, action: 'variants.update', body: 'array', flagKeyFrom: 'path', scope: 'named' },
  { method: 'PATCH', pattern: `${ENV}/variants`, action: 'variants.update', body: 'patch', flagKeyFrom: 'path', scope: 'named' },
  { method: 'PUT', pattern: `${FEATURE}/variants-batch`, action: 'variants.update', body: 'object', flagKeyFrom: 'path', scope: 'body' },
  // A dependency gates the flag in every environment.
  { method: 'POST', pattern: `${FEATURE}/dependencies`, action: 'dependency.add', body: 'object', flagKeyFrom: 'path', scope: 'all' },
  { method: 'DELETE', pattern: `${FEATURE}/dependencies`, action: 'dependency.delete', body: 'none', flagKeyFrom: 'path', scope: 'all' },
  { method: 'DELETE', pattern: `${FEATURE}/dependencies/:parent`, action: 'dependency.delete', body: 'none', flagKeyFrom: 'path', scope: 'all' },
  // Lifecycle, links and tags describe the flag; no environment serves anything else for them.
  { method: 'POST', pattern: `${FEATURE}/lifecycle/complete`, action: 'flag.complete', body: 'object', flagKeyFrom: 'path', scope: 'none' },
  { method: 'POST', pattern: `${FEATURE}/lifecycle/uncomplete`, action: 'flag.uncomplete', body: 'none', flagKeyFrom: 'path', scope: 'none' },
  { method: 'POST', pattern: `${FEATURE}/link`, action: 'link.create', body: 'object', flagKeyFrom: 'path', scope: 'none' },
  { method: 'PUT', pattern: `${FEATURE}/link/:linkId`, action: 'link.update', body: 'object', flagKeyFrom: 'path', scope: 'none' },
  { method: 'DELETE', pattern: `${FEATURE}/link/:linkId`, action: 'link.delete', body: 'none', flagKeyFrom: 'path', scope: 'none' },
  { method: 'POST', pattern: `${TAGS}`, action: 'tag.add', body: 'object', flagKeyFrom: 'path', scope: 'none' },
  { method: 'PUT', pattern: `${TAGS}`, action: 'tag.update', body: 'object', flagKeyFrom: 'path', scope: 'none' },
  { method: 'DELETE', pattern: `${TAGS}/:tagType/:tagValue`, action: 'tag.delete', body: 'none', flagKeyFrom: 'path', scope: 'none' },
  // Batch operations: one decision over every flag their `features` list names.
  { method: 'POST', pattern: '/api/admin/projects/:project/stale', action: 'flag.stale', body: 'object', flagKeyFrom: 'features', scope: 'none' },
  { method: 'POST', pattern: `${BULK}/on`, action: 'flag.enable', body: 'object', flagKeyFrom: 'features', scope: 'named', query: ['shouldActivateDisabledStrategies'] },
  { method: 'POST', pattern: `${BULK}/off`, action: 'flag.disable', body: 'object', flagKeyFrom: 'features', scope: 'named', ignoredQuery: ['shouldActivateDisabledStrategies'] },
  { method: 'POST', pattern: '/api/admin/projects/:project/archive', action: 'flag.archive', body: 'object', flagKeyFrom: 'features', scope: 'all' },
  { method: 'POST', pattern: '/api/admin/projects/:project/revive', action: 'flag.revive', body: 'object', flagKeyFrom: 'features', scope: 'all' },
  { method: 'POST', pattern: '/api/admin/projects/:project/delete', action: 'flag.delete', body: 'object', flagKeyFrom: 'features', scope: 'all' },
  // A new segment is used by no strategy yet; a changed or removed one reaches every strategy using it.
  { method: 'POST', pattern: '/api/admin/segments', action: 'segment.create', body: 'object', flagKeyFrom: 'segment', scope: 'none' },
  { method: 'PUT', pattern: '/api/admin/segments/:segment', action: 'segment.update', body: 'object', flagKeyFrom: 'segment', scope: 'reach' },
  { method: 'DELETE', pattern: '/api/admin/segments/:segment', action: 'segment.delete', body: 'none', flagKeyFrom: 'segment', scope: 'reach' },
  // One decision over every flag the payload names, each read from Unleash first (./import.ts).
  { method: 'POST', pattern: '/api/admin/features-batch/import', action: 'flag.import', body: 'object', flagKeyFrom: 'import', scope: 'import' },
  ...contextRoutes('/api/admin/context'),
  ...contextRoutes('/api/admin/projects/:project/context'),
];

/**
 * Context field writes, instance-wide or per project: each reaches every strategy whose constraints,
 * or whose segments' constraints, name the field (a new field too: constraints may name it already).
 */
function contextRoutes(base: string): WriteRoute[] {
  const field = `${base}/:contextField`;
  const common = { flagKeyFrom: 'context', scope: 'reach' } as const;
  return [
    { method: 'POST', pattern: base, action: 'context.create', body: 'object', ...common },
    { method: 'PUT', pattern: field, action: 'context.update', body: 'object', ...common },
    { method: 'DELETE', pattern: field, action: 'context.delete', body: 'none', ...common },
    { method: 'POST', pattern: `${field}/legal-values`, action: 'context.update', body: 'object', ...common },
    { method: 'DELETE', pattern: `${field}/legal-values/:legalValue`, action: 'context.update', body: 'none', ...common },
  ];
}

/**
 * The `validate*` operations (and export, playground): POST, but they change nothing. Forwarded as reads, with
 * the body rebuilt like a write's. (`/api/admin/user-admin/validate-password` is user administration
 * and stays refused.)
 */
export const readRoutes: readonly ReadRoute[] = [
  '/api/admin/features/validate',
  '/api/admin/constraints/validate',
  '/api/admin/segments/validate',
  '/api/admin/context/validate',
  '/api/admin/projects/:project/context/validate',
  '/api/admin/tag-types/validate',
  '/api/admin/features-batch/validate',
  '/api/admin/projects/:project/archive/validate',
  // Also POST, also changing nothing: an export of flags, and evaluating flags for a context.
  '/api/admin/features-batch/export',
  '/api/admin/playground',
  '/api/admin/playground/advanced',
].map((pattern) => ({ method: 'POST', pattern, body: 'object' }));

/** One path segment: as sent, and percent-decoded. */
export interface Segment {
  raw: string;
  decoded: string;
}

/**
 * A name usable as a path parameter or flag key: not empty, not `.` or `..`, and free of control
 * characters and of `/` and `\`, which would change the path once decoded.
 */
export function isUsableName(s: string): boolean {
  if (s === '' || s === '.' || s === '..') return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x2f || c === 0x5c) return false;
  }
  return true;
}

function badPath(path: string, reason: string): FlaggateError {
  return new FlaggateError('ADAPT_ROUTE_UNKNOWN', `path not accepted: ${reason}`, { details: { path, reason } });
}

/**
 * Splits an origin-form path (no query) into decoded segments.
 * Throws ADAPT_ROUTE_UNKNOWN for anything a later hop could read differently: empty segments,
 * `.`/`..` (plain or encoded), bad percent-encoding, control characters, encoded `/` or `\`.
 */
export function splitPath(path: string): Segment[] {
  if (!path.startsWith('/')) throw badPath(path, 'not an origin-form path');
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const segments: Segment[] = [];
  for (const raw of trimmed.slice(1).split('/')) {
    if (raw === '') throw badPath(path, 'empty segment');
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch (err) {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'path not accepted: bad percent-encoding', {
        cause: err,
        details: { path, reason: 'bad percent-encoding' },
      });
    }
    if (!isUsableName(decoded)) throw badPath(path, 'dot segment, control character or separator in a segment');
    segments.push({ raw, decoded });
  }
  return segments;
}

export interface Pattern {
  method: string;
  pattern: string;
}

export function compile<R extends Pattern>(routes: readonly R[]): Array<{ route: R; parts: string[] }> {
  return routes.map((route) => ({ route, parts: route.pattern.slice(1).split('/') }));
}

const compiledWrites = compile(writeRoutes);
const compiledReads = compile(readRoutes);

/**
 * The path flaggate forwards for a matched route: the pattern's own literals, each parameter
 * percent-encoded from its decoded value, which Express decodes back to exactly that value.
 */
export function buildPath(route: Pattern, params: Record<string, string>): string {
  return route.pattern.replace(/:([A-Za-z]+)/g, (_m, name: string) => {
    const value = params[name];
    if (value === undefined) throw new TypeError(`route ${route.pattern} has no value for :${name}`);
    return encodeURIComponent(value);
  });
}

/** The path flaggate forwards for a read: every segment re-encoded from its decoded value. */
export function canonicalPath(segments: readonly Segment[]): string {
  return `/${segments.map((s) => encodeURIComponent(s.decoded)).join('/')}`;
}

/** The write route `method` and `segments` hit, with its decoded parameters; undefined if none. */
export function matchWrite(method: string, segments: readonly Segment[]): { route: WriteRoute; params: Record<string, string> } | undefined {
  return matchIn(compiledWrites, method, segments);
}

/** The read-only POST route `method` and `segments` hit (a `validate*` operation); undefined if none. */
export function matchPostRead(method: string, segments: readonly Segment[]): { route: ReadRoute; params: Record<string, string> } | undefined {
  return matchIn(compiledReads, method, segments);
}

export function matchIn<R extends Pattern>(
  table: ReadonlyArray<{ route: R; parts: string[] }>,
  method: string,
  segments: readonly Segment[],
): { route: R; params: Record<string, string> } | undefined {
  for (const { route, parts } of table) {
    if (route.method !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const hit = parts.every((part, i) => {
      const seg = segments[i] as Segment;
      if (part.startsWith(':')) {
        params[part.slice(1)] = seg.decoded;
        return true;
      }
      // Express matches literals on the raw path, case-insensitively.
      return seg.raw.toLowerCase() === part.toLowerCase();
    });
    if (hit) return { route, params };
  }
  return undefined;
}
