import { FlaggateError } from '../errors.js';
import type { RawRequest } from './raw-request.js';

/**
 * Several platforms on one proxy port, each under its path prefix: which one a request is for, and
 * the request as that platform sees it (the prefix taken off). Matching is on the target as
 * received, never decoded or normalized, and a target another hop could read as a different path
 * is refused before any platform is chosen: a dot segment (`/flagd/../unleash/…`, plain or
 * `%2e`), an encoded slash or backslash (`%2f`, `%5c`), a backslash, a path not in origin form.
 * So a request under one platform's prefix can reach no other platform.
 */
export function routeByPrefix(req: RawRequest, prefixes: readonly string[]): { index: number; req: RawRequest } | { refused: FlaggateError } {
  const target = req.path;
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const why = unroutable(path);
  if (why) return { refused: new FlaggateError('ADAPT_TARGET_REFUSED', `the request target contains ${why}; it reaches no platform`, { details: { target: target.slice(0, 256), reason: why } }) };
  const index = prefixes.findIndex((prefix) => path === prefix || path.startsWith(`${prefix}/`));
  if (index === -1) {
    return { refused: new FlaggateError('ADAPT_ROUTE_UNKNOWN', `no platform is under ${path.slice(0, 128)}; the platforms on this port are under ${prefixes.join(', ') || 'no path'}`) };
  }
  const inner = path.slice(prefixes[index]!.length) || '/';
  return { index, req: { ...req, path: q === -1 ? inner : inner + target.slice(q) } };
}

function unroutable(path: string): string | undefined {
  if (!path.startsWith('/') || path.startsWith('//')) return 'a path not in origin form';
  if (path.includes('\\')) return 'a backslash';
  if (/%(2f|5c)/i.test(path)) return 'an encoded slash or backslash';
  for (const segment of path.split('/')) {
    const dots = segment.replace(/%2e/gi, '.');
    if (dots === '.' || dots === '..') return 'a dot segment';
  }
  return undefined;
}
