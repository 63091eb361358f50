/**
 * Reads the JSON body of an Unleash write exactly as strictly as flaggate needs: the body is forwarded
 * byte for byte, so what is parsed here must be what Unleash will parse. Anything that could decode
 * differently on the platform (another charset, a content encoding) is refused rather than guessed.
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/raw-request.js';
import type { BodyKind } from './routes.js';

/** Deeper bodies are refused: nothing Unleash accepts nests this far, and later stages recurse. */
export const MAX_JSON_DEPTH = 32;

const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);

export type JsonObject = Record<string, unknown>;
export interface PatchOperation extends JsonObject {
  op: string;
  path: string;
}

/** Throws ADAPT_MEDIA_TYPE_UNSUPPORTED unless the body is identity-encoded `application/json` in UTF-8. */
export function requireJsonMediaType(req: RawRequest): void {
  const encoding = req.headers['content-encoding']?.trim().toLowerCase();
  if (encoding && encoding !== 'identity') {
    throw new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', `content-encoding ${encoding} is not accepted`, {
      details: { contentEncoding: encoding },
    });
  }
  const contentType = req.headers['content-type'];
  const [type = '', ...params] = (contentType ?? '').split(';');
  const charset = params
    .map((p) => p.trim().split('='))
    .find(([k]) => k?.trim().toLowerCase() === 'charset')?.[1]
    ?.trim()
    .replace(/^"(.*)"$/, '$1')
    .toLowerCase();
  if (type.trim().toLowerCase() !== 'application/json' || (charset !== undefined && charset !== 'utf-8')) {
    throw new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', 'a JSON write needs content-type application/json', {
      details: { contentType: contentType ?? null },
    });
  }
}

function malformed(message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message, cause === undefined ? undefined : { cause });
}

function depthOf(value: unknown, limit: number): number {
  if (value === null || typeof value !== 'object') return 0;
  if (limit <= 0) return 1;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v, limit - 1));
  return max + 1;
}

/** Parses a UTF-8 JSON body; ADAPT_BODY_MALFORMED (with the parser's message) when it is not JSON. */
export function parseJson(body: Buffer): unknown {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch (err) {
    throw malformed('body is not valid UTF-8', err);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw malformed(`body is not JSON: ${(err as Error).message}`, err);
  }
  if (depthOf(value, MAX_JSON_DEPTH) > MAX_JSON_DEPTH) throw malformed(`body nests deeper than ${MAX_JSON_DEPTH}`);
  return value;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The body as the route wants it: a JSON object or a JSON Patch array. */
export function readJsonBody(req: RawRequest, kind: Exclude<BodyKind, 'none'>): JsonObject | PatchOperation[] {
  requireJsonMediaType(req);
  const value = parseJson(req.body);
  if (kind === 'object') {
    if (!isObject(value)) throw malformed('body must be a JSON object');
    return value;
  }
  if (!Array.isArray(value) || value.length === 0) throw malformed('body must be a non-empty JSON Patch array');
  value.forEach((op: unknown, i) => {
    if (!isObject(op) || typeof op.op !== 'string' || !PATCH_OPS.has(op.op) || typeof op.path !== 'string') {
      throw malformed(`JSON Patch operation ${i} needs a known op and a path`);
    }
  });
  return value as PatchOperation[];
}
