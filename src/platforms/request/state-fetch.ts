import { FlaggateError } from '../../errors.js';
import { exchange, type HttpReply } from '../../http-client.js';
import { isJsonObject } from './body-rules.js';

export interface StateFetch {
  /** The platform's name, for messages. */
  platform: string;
  baseUrl: string;
  /** The credential header's value. */
  authorization: string;
  /** The header that carries it (default `authorization`). */
  credentialHeader?: string;
  timeoutMs: number;
  /** Statuses whose body may be the platform's "not there" (default: 404 only). */
  notFoundStatuses?: readonly number[];
  /** Whether a 404 body is the platform's own "not there" (anything else means a wrong base URL). */
  isNotFound(body: unknown): boolean;
}

/**
 * A state read from a platform's admin API: the parsed JSON object or array, or undefined when the
 * platform says the object is not there. Every other answer is ADAPT_STATE_UNAVAILABLE, so a change
 * is never decided on a state that could not be read.
 */
export async function fetchState(o: StateFetch, path: string): Promise<Record<string, unknown> | unknown[] | undefined> {
  let res: HttpReply;
  try {
    res = await exchange(o.baseUrl.replace(/\/+$/, '') + path, {
      method: 'GET',
      headers: { [(o.credentialHeader ?? 'authorization').toLowerCase()]: o.authorization, accept: 'application/json' },
      timeoutMs: o.timeoutMs,
    });
  } catch (err) {
    throw unavailable(`${o.platform} did not answer ${path}: ${(err as Error).message}`, err);
  }
  if ((o.notFoundStatuses ?? [404]).includes(res.status)) {
    if (o.isNotFound(parseOrUndefined(res.body))) return undefined;
    if (res.status === 404) throw unavailable(`${o.platform} has no route ${path}; check the base URL`, undefined, { status: 404 });
    throw unavailable(`${o.platform} answered ${res.status} to ${path}`, undefined, { status: res.status });
  }
  if (res.status !== 200) throw unavailable(`${o.platform} answered ${res.status} to ${path}`, undefined, { status: res.status });
  let body: unknown;
  try {
    body = JSON.parse(res.body.toString('utf8'));
  } catch (err) {
    throw unavailable(`${o.platform} sent an unreadable body for ${path}`, err);
  }
  if (!isJsonObject(body) && !Array.isArray(body)) throw unavailable(`${o.platform} sent an unexpected body for ${path}`);
  return body;
}

/** The JSON of a body, or undefined when it is not JSON. */
function parseOrUndefined(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

function unavailable(message: string, cause?: unknown, details: Record<string, unknown> = {}): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, { cause, details });
}
