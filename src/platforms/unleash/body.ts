/**
 * Reads the JSON body of an Unleash write as strictly as the forwarded request needs: only the
 * declared media type (forwarded as flaggate writes it), only JSON that no later parser reads
 * differently (see ../request/strict-json.ts).
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import { acceptMediaType, isJsonPointer, JSON_UTF8, parseStrictJson } from '../request/index.js';
import { isUsableName, type BodyKind } from './routes.js';

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
    // Every check of a patch reads its paths as pointers: one Unleash reads another way is refused.
    if (!isJsonPointer(op.path) || (Object.hasOwn(op, 'from') && !isJsonPointer(op.from))) {
      throw malformed(`JSON Patch operation ${i}: path and from must be JSON Pointers ("" or "/"-led, escapes ~0 and ~1 only)`);
    }
  });
  return { value: value as PatchOperation[], contentType };
}

/**
 * A percentage every evaluator reads alike: Unleash stores `rollout` as sent, the Node SDK reads it
 * with Number() ("0x32" is 50, "5e-1" is 0.5), Yggdrasil (the newer SDKs, Edge) as an unsigned
 * integer (both are 0% there). Only 0-100 written as plain decimal digits, as a string or an integer.
 */
export function rolloutOf(value: unknown, field = 'parameters.rollout'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 100) return value;
  if (typeof value === 'string' && /^(?:100|[1-9]?[0-9])$/.test(value)) return Number(value);
  throw new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be a whole percentage from 0 to 100 in plain digits ("25")`, { details: { field } });
}

export { requireNoBody } from '../request/index.js';

/** Constraints as Unleash's validator leaves them: a `values` list on each (empty where none is given). */
export function storedConstraints(constraints: unknown): unknown {
  if (!Array.isArray(constraints)) return constraints;
  return constraints.map((c: unknown) => (isObject(c) && c.values === undefined ? { ...c, values: [] } : c));
}

/** A write's body as its route reads it. */
export type WriteBody = JsonObject | JsonObject[] | PatchOperation[] | undefined;

/** The members of `object` named in `names`: what a validator that drops unknown members keeps. */
export function membersIn(object: JsonObject, names: ReadonlySet<string>): JsonObject {
  return Object.fromEntries(Object.entries(object).filter(([name]) => names.has(name)));
}

/** The members of a strategy Unleash acts on (its `standardizeStrategyConfig`, and `segments`). */
export const STRATEGY_MEMBERS = new Set(['name', 'title', 'disabled', 'sortOrder', 'constraints', 'variants', 'parameters', 'segments']);

/** ADAPT_BODY_MALFORMED naming the field and what it must be. */
export function fieldMalformed(field: string, want: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be ${want}`, { details: { field } });
}

/** A flag name from a body, as Unleash's routes take one. */
export function usableName(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUsableName(value)) {
    throw new FlaggateError('ADAPT_BODY_MALFORMED', `body.${field} must be a usable flag name`, { details: { field } });
  }
  return value;
}

/** One tag's identity, (type, value), as text: Unleash stores a tag on a flag, and in its catalogue, once per pair. */
export function tagKey(tag: { type?: unknown; value?: unknown }): string {
  return JSON.stringify([tag.type, tag.value]);
}
