import { createHmac } from 'node:crypto';
import type { AuditEntry } from '../../audit/index.js';
import { FlaggateError } from '../../errors.js';
import type { Sink } from '../sink.js';
import { backoffDelay, sleep } from './backoff.js';

export type HttpSinkFormat = 'splunk_hec' | 'webhook';

export interface HttpSinkOptions {
  name: string;
  required: boolean;
  url: string;
  format: HttpSinkFormat;
  /** HEC token (`Authorization: Splunk <token>`). */
  token?: string;
  /** Webhook HMAC-SHA256 key. */
  secret?: string;
  sourcetype?: string;
  index?: string;
  timeoutMs?: number;
  /** Attempts per batch, first included. */
  maxAttempts?: number;
  backoff?: { baseMs: number; maxMs: number };
  /** Unix seconds for the webhook timestamp header. */
  now?: () => number;
}

interface Request {
  headers: Record<string, string>;
  body: string;
}

/**
 * Feeds a SIEM over HTTP: Splunk HEC JSON event batches, or a signed webhook. A 2xx acknowledges the
 * whole batch. Network failures, 408, 429 and 5xx are retried with exponential backoff and full
 * jitter, up to `maxAttempts`; any other status fails at once (retrying a refused token won't help).
 * Receivers dedupe by `chain_id` and `seq`: delivery is at least once.
 */
export function createHttpSink(options: HttpSinkOptions): Sink {
  if (options.format === 'splunk_hec' && !options.token) throw new TypeError('a splunk_hec sink needs a token');
  if (options.format === 'webhook' && !options.secret) throw new TypeError('a webhook sink needs a secret');
  const maxAttempts = options.maxAttempts ?? 5;
  const backoff = options.backoff ?? { baseMs: 200, maxMs: 10_000 };
  const timeoutMs = options.timeoutMs ?? 10_000;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  let lastSeq = 0;

  const build = (entries: AuditEntry[]): Request =>
    options.format === 'splunk_hec'
      ? hecRequest(entries, options.token!, options.sourcetype ?? 'flaggate:audit', options.index)
      : webhookRequest(entries, options.secret!, now());

  return {
    name: options.name,
    required: options.required,
    async deliver(entries) {
      const fresh = entries.filter((e) => e.seq > lastSeq);
      if (fresh.length === 0) return lastSeq;
      let lastError: unknown;
      for (let attempt = 0; attempt < maxAttempts; attempt += 1) {
        if (attempt > 0) await sleep(backoffDelay(attempt - 1, backoff));
        const req = build(fresh);
        try {
          const res = await fetch(options.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...req.headers },
            body: req.body,
            signal: AbortSignal.timeout(timeoutMs),
          });
          const text = await res.text();
          if (res.ok) {
            lastSeq = fresh[fresh.length - 1]!.seq;
            return lastSeq;
          }
          lastError = refused(options.name, res.status, text);
          if (!retryable(res.status)) break;
        } catch (err) {
          lastError = err;
        }
      }
      throw new FlaggateError('REPLICATE_UNACKED', `sink "${options.name}" did not acknowledge seq ${fresh[0]!.seq}..${fresh[fresh.length - 1]!.seq}`, {
        cause: lastError,
        details: { sink: options.name },
      });
    },
    async close() {},
  };
}

/** Splunk HEC JSON: one event object per entry, concatenated; `time` in epoch seconds. */
function hecRequest(entries: AuditEntry[], token: string, sourcetype: string, index: string | undefined): Request {
  const body = entries
    .map((e) =>
      JSON.stringify({
        time: Date.parse(e.timestamp_utc) / 1000,
        source: `flaggate:${e.chain_id}`,
        sourcetype,
        ...(index ? { index } : {}),
        event: e,
      }),
    )
    .join('');
  return { headers: { authorization: `Splunk ${token}` }, body };
}

/** A JSON array of entries; `X-Flaggate-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. */
function webhookRequest(entries: AuditEntry[], secret: string, unixSeconds: number): Request {
  const body = JSON.stringify(entries);
  return {
    headers: {
      'x-flaggate-signature': `sha256=${signBody(secret, body)}`,
      'x-flaggate-timestamp': String(unixSeconds),
    },
    body,
  };
}

/** The webhook signature a receiver recomputes over the raw body bytes. */
export function signBody(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

function retryable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

function refused(sink: string, status: number, text: string): Error {
  return new Error(`sink "${sink}" answered ${status}: ${text.slice(0, 200)}`);
}
