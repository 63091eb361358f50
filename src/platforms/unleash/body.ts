/**
 * Reads the JSON body of an Unleash write as strictly as the forwarded request needs: only the
 * declared media type (forwarded as flaggate writes it), only JSON that no later parser reads
 * differently (see ../request/strict-json.ts).
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import { acceptMediaType, JSON_UTF8, parseStrictJson } from '../request/index.js';
import type { BodyKind } from './routes.js';

const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

export type JsonObject = Record<string, unknown>;
export interface PatchOperation extends JsonObject {
  op: string;
  path: string;
}

function malformed(message: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as the route wants it, and the Content-Type flaggate forwards with it. */
export function readJsonBody(req: RawRequest, kind: Exclude<BodyKind, 'none'>): { value: JsonObject | JsonObject[] | PatchOperation[]; contentType: string } {
  const contentType = acceptMediaType(req.headers, [JSON_UTF8]);
  const value = parseStrictJson(req.body);
  if (kind === 'object') {
    if (!isObject(value)) throw malformed('body must be a JSON object');
    return { value, contentType };
  }
  if (kind === 'array') {
    // May be empty: an empty variant list clears the variants.
    if (!Array.isArray(value) || !value.every(isObject)) throw malformed('body must be a JSON array of objects');
    return { value: value as JsonObject[], contentType };
  }
  if (!Array.isArray(value) || value.length === 0) throw malformed('body must be a non-empty JSON Patch array');
  value.forEach((op: unknown, i) => {
    if (!isObject(op) || typeof op.op !== 'string' || !PATCH_OPS.has(op.op) || typeof op.path !== 'string') {
      throw malformed(`JSON Patch operation ${i} needs a known op and a path`);
    }
  });
  return { value: value as PatchOperation[], contentType };
}

export { requireNoBody } from '../request/index.js';
