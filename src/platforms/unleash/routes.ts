/**
 * The Unleash admin API writes flaggate understands (checked against unleash-server 8.2's controllers:
 * features/feature-toggle/feature-toggle-controller and archive-feature-toggle-controller), and the
 * path splitting they are matched with. Matching follows Express as Unleash configures it: literal
 * segments are case-insensitive, one trailing slash is ignored, parameters are percent-decoded.
 */
import { FlaggateError } from '../../errors.js';

/** What the body of a write must be: a JSON object, an RFC 6902 JSON Patch array, or nothing read. */
export type BodyKind = 'object' | 'patch' | 'none';

export interface WriteRoute {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/`-separated; `:name` is a parameter. */
  pattern: string;
  action: string;
  body: BodyKind;
  /** `path`: the `:feature` parameter; `body`: the JSON body's `name`. */
  flagKeyFrom: 'path' | 'body';
  /** Query parameters Unleash's controller reads for this route; any other is refused. */
  query?: readonly string[];
}

const FEATURES = '/api/admin/projects/:project/features';
const FEATURE = `${FEATURES}/:feature`;
const ENV = `${FEATURE}/environments/:environment`;
const STRATEGY = `${ENV}/strategies/:strategyId`;

/** Every recognized write. Any other POST, PUT, PATCH or DELETE is an unrecognized write. */
export const writeRoutes: readonly WriteRoute[] = [
  { method: 'POST', pattern: FEATURES, action: 'flag.create', body: 'object', flagKeyFrom: 'body' },
  { method: 'PUT', pattern: FEATURE, action: 'flag.update', body: 'object', flagKeyFrom: 'path' },
  { method: 'PATCH', pattern: FEATURE, action: 'flag.update', body: 'patch', flagKeyFrom: 'path' },
  { method: 'DELETE', pattern: FEATURE, action: 'flag.archive', body: 'none', flagKeyFrom: 'path' },
  { method: 'DELETE', pattern: '/api/admin/archive/:feature', action: 'flag.delete', body: 'none', flagKeyFrom: 'path' },
  { method: 'POST', pattern: '/api/admin/archive/revive/:feature', action: 'flag.revive', body: 'none', flagKeyFrom: 'path' },
  { method: 'POST', pattern: `${ENV}/on`, action: 'flag.enable', body: 'none', flagKeyFrom: 'path', query: ['shouldActivateDisabledStrategies'] },
  { method: 'POST', pattern: `${ENV}/off`, action: 'flag.disable', body: 'none', flagKeyFrom: 'path' },
  { method: 'POST', pattern: `${ENV}/strategies`, action: 'strategy.create', body: 'object', flagKeyFrom: 'path' },
  { method: 'PUT', pattern: STRATEGY, action: 'strategy.update', body: 'object', flagKeyFrom: 'path' },
  { method: 'PATCH', pattern: STRATEGY, action: 'strategy.update', body: 'patch', flagKeyFrom: 'path' },
  { method: 'DELETE', pattern: STRATEGY, action: 'strategy.delete', body: 'none', flagKeyFrom: 'path' },
];

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

const compiled = writeRoutes.map((route) => ({ route, parts: route.pattern.slice(1).split('/') }));

/**
 * The path flaggate forwards for a matched route: the pattern's own literals, each parameter
 * percent-encoded from its decoded value, which Express decodes back to exactly that value.
 */
export function buildPath(route: WriteRoute, params: Record<string, string>): string {
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
export function matchWrite(
  method: string,
  segments: readonly Segment[],
): { route: WriteRoute; params: Record<string, string> } | undefined {
  for (const { route, parts } of compiled) {
    if (route.method !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const hit = parts.every((part, i) => {
      const seg = segments[i] as Segment;
      if (part.startsWith(':')) {
        params[part.slice(1)] = seg.decoded;
        return true;
      }
      // Express matches literals on the raw path, case-insensitively.
      return seg.raw.toLowerCase() === part;
    });
    if (hit) return { route, params };
  }
  return undefined;
}
