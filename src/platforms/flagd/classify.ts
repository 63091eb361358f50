import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import type { Classification, FlagChange } from '../platform.js';
import { acceptMediaType, decidedRequest, JSON_UTF8, parseQuery, parseStrictJson, splitTarget } from '../request/index.js';
import { flagDefinitionSchema } from './flag-file.js';
import { assertFlagdDefinition } from './flagd-loads.js';

/**
 * flaggate's change API for a flagd flag file (flagd itself only reads files):
 *   GET    /flags                      all flags            (read)
 *   GET    /flags/:key                 one flag             (read)
 *   POST   /flags        {key, ...def} flag.create
 *   PUT    /flags/:key   {...def}      flag.update (whole definition)
 *   POST   /flags/:key/enable          flag.enable
 *   POST   /flags/:key/disable         flag.disable
 *   DELETE /flags/:key                 flag.delete
 */
const flagKeyPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function classifyFlagdRequest(req: RawRequest, environment: string): Classification {
  const method = req.method.toUpperCase();
  const { path, query } = splitTarget(req.path);
  parseQuery(query, []); // no route takes a query
  const parts = path.split('/').slice(1);
  if (parts.at(-1) === '' && parts.length > 1) parts.pop(); // one trailing slash
  if (parts[0] !== 'flags' || parts.length > 3 || parts.includes('')) {
    if (method === 'GET' || method === 'HEAD') throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `no flag API route ${method} ${path}`);
    return { kind: 'unrecognized', method, path, reason: 'not a route of the flag change API' };
  }
  const key = parts[1] === undefined ? undefined : decodeKey(parts[1]);
  const sub = parts[2];
  // The canonical target: what the entry records, whatever spelling the client used.
  const target = ['/flags', ...(key === undefined ? [] : [key]), ...(sub === undefined ? [] : [sub])].join('/');

  if (method === 'GET' || method === 'HEAD') {
    if (sub !== undefined) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `no flag API route ${method} ${path}`);
    return {
      kind: 'read',
      read: { platform: 'flagd', action: 'flag.read', environment, ...(key ? { flagKey: key } : {}) },
      forward: decidedRequest(method, target, null, Buffer.alloc(0)),
    };
  }
  const write = (change: Omit<FlagChange, 'platform' | 'environment' | 'request'>, hasBody: boolean): Classification => {
    if (!hasBody && req.body.length > 0) throw new FlaggateError('ADAPT_BODY_MALFORMED', `${method} ${target} takes no body`);
    const forward = decidedRequest(method, target, hasBody ? JSON_UTF8.forwardAs : null, hasBody ? req.body : Buffer.alloc(0));
    return {
      kind: 'write',
      change: { platform: 'flagd', environment, request: { method, path: target, bodySha256: forward.bodySha256 }, ...change },
      forward,
    };
  };

  if (method === 'POST' && key === undefined) {
    const body = jsonObject(req);
    const { key: newKey, ...definition } = body;
    if (typeof newKey !== 'string' || !flagKeyPattern.test(newKey)) {
      throw new FlaggateError('ADAPT_BODY_MALFORMED', 'body.key must be a flag key (letters, digits, ".", "_", "-")');
    }
    return write({ action: 'flag.create', flagKey: newKey, newState: parseDefinition(newKey, definition) }, true);
  }
  if (key !== undefined && sub === undefined && method === 'PUT') {
    return write({ action: 'flag.update', flagKey: key, newState: parseDefinition(key, jsonObject(req)) }, true);
  }
  if (key !== undefined && sub === undefined && method === 'DELETE') return write({ action: 'flag.delete', flagKey: key, newState: null }, false);
  if (key !== undefined && method === 'POST' && (sub === 'enable' || sub === 'disable')) {
    return write({
      action: sub === 'enable' ? 'flag.enable' : 'flag.disable',
      flagKey: key,
      newState: { state: sub === 'enable' ? 'ENABLED' : 'DISABLED' },
    }, false);
  }
  return { kind: 'unrecognized', method, path, reason: 'not a route of the flag change API' };
}

function decodeKey(segment: string): string {
  let key: string;
  try {
    key = decodeURIComponent(segment);
  } catch {
    throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'the flag key is not valid percent-encoding');
  }
  if (!flagKeyPattern.test(key)) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `"${key.slice(0, 64)}" is not a flag key`);
  return key;
}

function jsonObject(req: RawRequest): Record<string, unknown> {
  acceptMediaType(req.headers, [JSON_UTF8]);
  // flagd (Go) decodes a flag definition's own fields into a struct, matching them regardless of case;
  // variants, metadata and targeting are maps, matched exactly.
  const value = parseStrictJson(req.body, { caseInsensitiveAt: (path) => path.length === 0 });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

/**
 * The body as a flag definition: flaggate's shape (400 ADAPT_BODY_MALFORMED), then flagd's own
 * schema for it (422 ADAPT_FLAGD_INVALID: variants of one type, known targeting operators), so a
 * definition flagd would refuse is refused before it is decided on or held for approval.
 */
function parseDefinition(flagKey: string, value: unknown) {
  const result = flagDefinitionSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `not a flagd flag definition: ${issues.join('; ')}`, { details: { issues } });
  }
  assertFlagdDefinition(flagKey, result.data);
  return result.data;
}
