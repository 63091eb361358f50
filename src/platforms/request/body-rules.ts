/** Body rules every HTTP platform shares; each refusal is ADAPT_BODY_MALFORMED naming the field. */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import { acceptMediaType, JSON_UTF8 } from './media-type.js';
import { parseStrictJson } from './strict-json.js';

export type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A JSON object with only the keys the route takes: platforms that drop unknown fields silently
 * (Django REST framework, LaunchDarkly) would otherwise apply less than the entry records.
 */
export function onlyKeys(value: unknown, keys: readonly string[]): JsonObject {
  if (!isJsonObject(value)) throw bodyMalformed('the body must be a JSON object');
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) throw bodyMalformed(`the body field "${key.slice(0, 64)}" is not one this route takes`, key);
  }
  return value;
}

/** A route without a body: nothing is forwarded, so nothing but an empty body (or `{}`) is accepted. */
export function requireNoBody(req: RawRequest): void {
  if (req.body.length === 0) return;
  acceptMediaType(req.headers, [JSON_UTF8]);
  const value = parseStrictJson(req.body);
  if (!isJsonObject(value) || Object.keys(value).length > 0) throw bodyMalformed('this route takes no body (an empty JSON object at most)');
}

export function bodyMalformed(message: string, field?: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message, field === undefined ? undefined : { details: { field } });
}

/**
 * The decoded segments of an origin-form path (no query), each a plain key once decoded, so
 * nothing in the path can be read two ways; ADAPT_ROUTE_UNKNOWN otherwise (empty segments too).
 */
export function plainSegments(path: string): string[] {
  return path.slice(1).split('/').map((raw) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch (cause) {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'path not accepted: bad percent-encoding', { cause, details: { path } });
    }
    if (!/^[A-Za-z0-9_.-]+$/.test(decoded) || decoded === '.' || decoded === '..') {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'path not accepted: a segment that is not a plain key (or an empty one)', { details: { path } });
    }
    return decoded;
  });
}

/**
 * A JSON Pointer as RFC 6901 writes it: empty, or `/`-led steps whose only escapes are `~0` and
 * `~1`. Patch libraries read other spellings their own way (fast-json-patch, Unleash's, skips
 * whatever comes before the first `/`: `x/archived` writes `/archived`), so a check of a patch's
 * paths holds only for pointers in this form.
 */
export function isJsonPointer(value: unknown): value is string {
  return typeof value === 'string' && (value === '' || /^(?:\/(?:[^~/]|~[01])*)+$/.test(value));
}
