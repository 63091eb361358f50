/**
 * Route templates of the REST mapping (`PATCH /api/flags/{flag}`): parsed once at start-up, matched
 * against requests segment by segment, and filled to rebuild the path flaggate forwards.
 */
import { plainSegments } from '../request/index.js';

export const ROUTE_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
/** The parameters a template may name; each fills the change's field of the same meaning. */
export const ROUTE_PARAMS = ['flag', 'environment', 'project'] as const;
export type RouteParam = (typeof ROUTE_PARAMS)[number];

export interface RouteTemplate {
  method: (typeof ROUTE_METHODS)[number];
  /** As written, for messages. */
  text: string;
  /** Literal segments as strings, parameters as `{name}`. */
  parts: Array<{ literal: string } | { param: RouteParam }>;
}

const LITERAL = /^[A-Za-z0-9_.-]+$/;

/** Parses `METHOD /path/{param}`; returns the problem as a string when it is not a template. */
export function parseRoute(text: string): RouteTemplate | string {
  const m = /^([A-Z]+) (\/\S*)$/.exec(text);
  if (!m) return 'must be "METHOD /path", e.g. "PATCH /api/flags/{flag}"';
  const method = m[1] as RouteTemplate['method'];
  if (!ROUTE_METHODS.includes(method)) return `method ${m[1]} is not one of ${ROUTE_METHODS.join(', ')}`;
  if (m[2] === '/') return { method, text, parts: [] };
  const parts: RouteTemplate['parts'] = [];
  const seen = new Set<string>();
  for (const segment of m[2]!.slice(1).split('/')) {
    const param = /^\{([a-z]+)\}$/.exec(segment);
    if (param) {
      if (!(ROUTE_PARAMS as readonly string[]).includes(param[1]!)) return `{${param[1]}} is not a route parameter (use ${ROUTE_PARAMS.map((p) => `{${p}}`).join(', ')})`;
      if (seen.has(param[1]!)) return `{${param[1]}} appears twice`;
      seen.add(param[1]!);
      parts.push({ param: param[1] as RouteParam });
    } else if (LITERAL.test(segment) && segment !== '.' && segment !== '..') {
      parts.push({ literal: segment });
    } else {
      return `the path segment "${segment.slice(0, 64)}" is neither a plain name nor a {parameter}`;
    }
  }
  return { method, text, parts };
}

export function routeParams(route: RouteTemplate): RouteParam[] {
  return route.parts.flatMap((p) => ('param' in p ? [p.param] : []));
}

/**
 * The parameters when `method` and the decoded `segments` match the template, else undefined.
 * Segments are compared exactly (case and trailing slash included), as most routers can be told to.
 */
export function matchRoute(route: RouteTemplate, method: string, segments: readonly string[]): Partial<Record<RouteParam, string>> | undefined {
  if (route.method !== method || route.parts.length !== segments.length) return undefined;
  const params: Partial<Record<RouteParam, string>> = {};
  for (const [i, part] of route.parts.entries()) {
    if ('literal' in part) {
      if (segments[i] !== part.literal) return undefined;
    } else {
      params[part.param] = segments[i]!;
    }
  }
  return params;
}

/** The decoded segments of a request path (plain keys only: ADAPT_ROUTE_UNKNOWN otherwise). */
export function requestSegments(path: string): string[] {
  return path === '/' ? [] : plainSegments(path);
}

/** The path for `route` with `params` filled in, each segment percent-encoded. */
export function fillRoute(route: RouteTemplate, params: Partial<Record<RouteParam, string>>): string {
  const path = route.parts.map((p) => {
    const value = 'literal' in p ? p.literal : params[p.param];
    if (value === undefined) throw new TypeError(`no value for {${'param' in p ? p.param : ''}} in ${route.text}`);
    return encodeURIComponent(value);
  });
  return `/${path.join('/')}`;
}

/** Whether two templates match exactly the same requests (the same method, literals and parameter places). */
export function sameRequests(a: RouteTemplate, b: RouteTemplate): boolean {
  if (a.method !== b.method || a.parts.length !== b.parts.length) return false;
  return a.parts.every((p, i) => {
    const q = b.parts[i]!;
    return 'literal' in p ? 'literal' in q && q.literal === p.literal : 'param' in q;
  });
}
