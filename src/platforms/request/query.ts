/**
 * Query strings, read one way only. Platforms parse queries with libraries that disagree on
 * duplicates (qs: array, URLSearchParams: last wins), on brackets and on parameter limits, so
 * flaggate accepts only keys a route declares, each at most once, and forwards its own encoding.
 */
import { FlaggateError } from '../../errors.js';

/**
 * Parses `query` (the raw text after `?`); throws ADAPT_QUERY_REFUSED on anything ambiguous.
 * `allowed` lists the keys a route takes, or tells whether a key may appear.
 */
export function parseQuery(query: string | null, allowed: readonly string[] | ((key: string) => boolean)): Record<string, string> {
  const isAllowed = typeof allowed === 'function' ? allowed : (key: string) => allowed.includes(key);
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  if (query === null || query === '') return params;
  for (const piece of query.split('&')) {
    if (piece === '') throw refused(query, 'an empty parameter');
    const eq = piece.indexOf('=');
    const key = decodePart(query, eq === -1 ? piece : piece.slice(0, eq));
    const value = eq === -1 ? '' : decodePart(query, piece.slice(eq + 1));
    if (!isAllowed(key)) throw refused(query, `the parameter "${key.slice(0, 64)}", which this route does not take`);
    if (Object.hasOwn(params, key)) throw refused(query, `the parameter "${key}" twice`);
    params[key] = value;
  }
  return params;
}

/** The query flaggate forwards: keys in the order given, values percent-encoded; '' when none. */
export function formatQuery(params: Record<string, string>): string {
  const pieces = Object.keys(params).map((k) => `${encodeURIComponent(k)}=${encodeURIComponent(params[k]!)}`);
  return pieces.length === 0 ? '' : `?${pieces.join('&')}`;
}

// Both qs and URLSearchParams read "+" as a space before percent-decoding.
function decodePart(query: string, part: string): string {
  try {
    return decodeURIComponent(part.replace(/\+/g, ' '));
  } catch (cause) {
    throw new FlaggateError('ADAPT_QUERY_REFUSED', 'the query is not valid percent-encoding', { cause, details: { query: query.slice(0, 256) } });
  }
}

function refused(query: string, what: string): FlaggateError {
  return new FlaggateError('ADAPT_QUERY_REFUSED', `the query contains ${what}; it is not forwarded`, {
    details: { query: query.slice(0, 256), reason: what },
  });
}
