/**
 * The request-target as flaggate accepts it: origin-form only, printable ASCII only, no fragment.
 * A fragment never reaches a server on the wire, but an HTTP client given "path#rest" drops "rest":
 * flaggate would classify one path and the platform would receive another.
 */
import { FlaggateError } from '../../errors.js';

export interface RequestTarget {
  /** The path, still percent-encoded. */
  path: string;
  /** The raw query after `?` (possibly empty), or null when there is no `?`. */
  query: string | null;
}

/** Splits an origin-form request-target; throws ADAPT_TARGET_REFUSED for anything else. */
export function splitTarget(target: string): RequestTarget {
  if (!target.startsWith('/') || target.startsWith('//')) throw refused(target, 'not an origin-form path');
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f) throw refused(target, 'a control, space or non-ASCII character');
    if (c === 0x23) throw refused(target, 'a fragment ("#")');
    if (c === 0x5c) throw refused(target, 'a backslash');
  }
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  // A client or proxy may resolve dot segments (RFC 3986 §5.2.4) before the platform routes.
  for (const segment of path.split('/')) {
    const dots = segment.replace(/%2e/gi, '.');
    if (dots === '.' || dots === '..') throw refused(target, 'a dot segment');
  }
  return q === -1 ? { path, query: null } : { path, query: target.slice(q + 1) };
}

function refused(target: string, what: string): FlaggateError {
  return new FlaggateError('ADAPT_TARGET_REFUSED', `the request target contains ${what}; it is not forwarded`, {
    details: { target: target.slice(0, 256), reason: what },
  });
}
