import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/raw-request.js';
import { pathOnly } from '../../intercept/raw-request.js';
import type { Classification, FlagChange } from '../adapter.js';
import { flagDefinitionSchema } from './flag-file.js';

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
  const parts = pathOnly(req).split('/').filter((p) => p !== '');
  if (parts[0] !== 'flags' || parts.length > 3) {
    if (method === 'GET' || method === 'HEAD') throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `no flag API route ${method} ${pathOnly(req)}`);
    return { kind: 'unrecognized', method, path: pathOnly(req), reason: 'not a route of the flag change API' };
  }
  const key = parts[1] === undefined ? undefined : decodeKey(parts[1]);
  const sub = parts[2];
  const base = { platform: 'flagd', environment, request: { method, path: req.path, bodySha256: req.bodySha256 } };

  if (method === 'GET' || method === 'HEAD') {
    if (sub !== undefined) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `no flag API route ${method} ${pathOnly(req)}`);
    return { kind: 'read', read: { platform: 'flagd', action: 'flag.read', environment, ...(key ? { flagKey: key } : {}) } };
  }
  const write = (change: Omit<FlagChange, 'platform' | 'environment' | 'request'>): Classification => ({
    kind: 'write',
    change: { ...base, ...change },
  });

  if (method === 'POST' && key === undefined) {
    const body = jsonObject(req);
    const { key: newKey, ...definition } = body;
    if (typeof newKey !== 'string' || !flagKeyPattern.test(newKey)) {
      throw new FlaggateError('ADAPT_BODY_MALFORMED', 'body.key must be a flag key (letters, digits, ".", "_", "-")');
    }
    return write({ action: 'flag.create', flagKey: newKey, newState: parseDefinition(definition) });
  }
  if (key !== undefined && sub === undefined && method === 'PUT') {
    return write({ action: 'flag.update', flagKey: key, newState: parseDefinition(jsonObject(req)) });
  }
  if (key !== undefined && sub === undefined && method === 'DELETE') return write({ action: 'flag.delete', flagKey: key, newState: null });
  if (key !== undefined && method === 'POST' && (sub === 'enable' || sub === 'disable')) {
    return write({
      action: sub === 'enable' ? 'flag.enable' : 'flag.disable',
      flagKey: key,
      newState: { state: sub === 'enable' ? 'ENABLED' : 'DISABLED' },
    });
  }
  return { kind: 'unrecognized', method, path: pathOnly(req), reason: 'not a route of the flag change API' };
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
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    throw new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', `expected content-type application/json, got "${type || 'none'}"`);
  }
  let value: unknown;
  try {
    value = JSON.parse(req.body.toString('utf8'));
  } catch (cause) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `the body is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', 'the body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function parseDefinition(value: unknown) {
  const result = flagDefinitionSchema.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`);
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `not a flagd flag definition: ${issues.join('; ')}`, { details: { issues } });
  }
  return result.data;
}
