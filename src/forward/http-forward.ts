import { createHash } from 'node:crypto';
import { FlaggateError } from '../errors.js';
import { exchange, type ExchangeError, type HttpReply } from '../http-client.js';
import type { DecidedRequest, Forward, PlatformResponse } from '../platforms/index.js';

const dropResponseHeaders = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'set-cookie', 'trailer', 'upgrade',
]);

/**
 * Sends the decided request to an HTTP platform with the sidecar's credential. No header of the
 * client's is passed on (hop-by-hop, `Forwarded`, `X-Forwarded-*`, cookies, its credential): the
 * headers are flaggate's own, so the platform reads exactly what was classified.
 * Throws FORWARD_PLATFORM_UNREACHABLE when no reply arrives.
 */
export function createHttpForwarder(options: {
  baseUrl: string;
  token?: string;
  /** Header that carries the platform credential; Unleash uses a bare token in Authorization. */
  credentialHeader?: string;
  credentialPrefix?: string;
  timeoutMs: number;
  /** A reply past this many bytes breaks off the exchange (default the HTTP client's). */
  maxReplyBytes?: number;
}): Forward {
  const base = options.baseUrl.replace(/\/+$/, '');
  const credentialHeader = options.credentialHeader ?? 'authorization';

  return async (req: DecidedRequest): Promise<PlatformResponse> => {
    // The last check before bytes leave: the body is the one whose digest was decided and recorded.
    if (createHash('sha256').update(req.body).digest('hex') !== req.bodySha256) {
      throw new TypeError('the forwarded body is not the decided one');
    }
    if (!req.target.startsWith('/') || req.target.includes('#')) throw new TypeError(`not a decided target: ${req.target}`);
    const headers: Record<string, string> = { accept: 'application/json', 'accept-encoding': 'identity' };
    if (req.contentType !== null) headers['content-type'] = req.contentType;
    if (options.token) headers[credentialHeader.toLowerCase()] = `${options.credentialPrefix ?? ''}${options.token}`;

    let res: HttpReply;
    try {
      res = await exchange(base + req.target, {
        method: req.method,
        headers,
        body: req.body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD' ? req.body : undefined,
        timeoutMs: options.timeoutMs,
        ...(options.maxReplyBytes === undefined ? {} : { maxReplyBytes: options.maxReplyBytes }),
      });
    } catch (cause) {
      // A request that was written may have been acted on, whatever came after (a timeout, a reset,
      // a reply cut short): its outcome is unknown. Only one never sent has surely failed.
      const timedOut = (cause as Error).name === 'TimeoutError';
      const mayHaveActed = timedOut || (cause as Partial<ExchangeError>).requestSent !== false;
      const message = timedOut ? 'the platform did not answer in time' : mayHaveActed ? `the exchange with the platform broke off after the request was sent: ${(cause as Error).message}` : 'the platform could not be reached';
      throw new FlaggateError('FORWARD_PLATFORM_UNREACHABLE', message, { cause, details: { timedOut, mayHaveActed } });
    }
    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (!dropResponseHeaders.has(name)) out[name] = value;
    }
    return { status: res.status, headers: out, body: res.body };
  };
}
