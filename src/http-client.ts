import { Agent, type Dispatcher } from 'undici';

/**
 * One HTTP exchange with a platform's admin API: the state read before a decision and the forward
 * after it. undici's `request` over a keep-alive agent rather than the global `fetch`: on the same
 * loopback exchange `fetch` took about 6× the time and CPU (its WHATWG streams, Headers and
 * Response objects), twice per change on the hot path. Redirects are never followed: a 3xx is
 * returned as it is, like any other status.
 */
export interface HttpExchange {
  method: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** The whole exchange, headers and body, must end within this many ms. */
  timeoutMs: number;
  /** A reply body past this many bytes fails the exchange (default `MAX_REPLY_BYTES`). */
  maxReplyBytes?: number;
}

/** A platform's reply is read whole into memory: a larger one fails the exchange rather than the process. */
export const MAX_REPLY_BYTES = 32 * 1024 * 1024;

/**
 * What an exchange that failed may have done: `requestSent` is false only when the request was
 * never handed to a connection (refused, unreachable, no free connection before the deadline), so
 * the platform cannot have acted on it. A reset, an early close or a reply cut short come after it
 * was written, and the platform may have acted.
 */
export type ExchangeError = Error & { requestSent: boolean };

/** A platform's reply, its body read whole. Header names are lower case; repeated ones are joined with ", ". */
export interface HttpReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const agent = new Agent({ keepAliveTimeout: 4_000 });

/**
 * Sends one request to `url` and reads the reply whole. Throws what undici throws when no reply
 * arrives (a refused connection, a reset); a timeout throws an error named `TimeoutError`.
 *
 * Through undici's dispatcher with a handler that collects the body itself: `request` wraps the
 * same dispatch in a readable stream, an abort signal and their promises, which were about half of
 * an exchange's CPU on loopback.
 */
export function exchange(url: string, o: HttpExchange): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const chunks: Buffer[] = [];
    let status = 0;
    let headers: Record<string, string> = {};
    let settled = false;
    let abortSent: ((reason: Error) => void) | undefined;
    let expired: Error | undefined;
    let requestSent = false;
    let received = 0;
    const maxReplyBytes = o.maxReplyBytes ?? MAX_REPLY_BYTES;
    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(Object.assign(err, { requestSent }) satisfies ExchangeError);
      else resolve({ status, headers, body: Buffer.concat(chunks) }); // a copy: a chunk may be a view of a larger socket read
    };
    // One deadline for the whole exchange. A request still waiting for a connection when it passes
    // is failed at once and aborted before it is written (onRequestStart), so it is never sent late.
    const timer = setTimeout(() => {
      expired = new DOMException(`no reply within ${o.timeoutMs} ms`, 'TimeoutError');
      abortSent?.(expired);
      settle(expired);
    }, o.timeoutMs);
    timer.unref();
    const handler: Dispatcher.DispatchHandler = {
      onRequestStart(controller) {
        if (expired) return controller.abort(expired);
        requestSent = true;
        abortSent = (reason) => controller.abort(reason);
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        if (statusCode < 200) return; // 1xx: informational, the reply is still to come
        status = statusCode;
        headers = joinedHeaders(responseHeaders);
        chunks.length = 0;
      },
      onResponseData(controller, chunk) {
        received += chunk.length;
        if (received > maxReplyBytes) {
          const tooLarge = new Error(`the reply is larger than ${maxReplyBytes} bytes`);
          controller.abort(tooLarge);
          return settle(tooLarge);
        }
        chunks.push(chunk);
      },
      onResponseEnd: () => settle(undefined),
      onResponseError: (_controller, err) => settle(err),
    };
    try {
      agent.dispatch({ origin: target.origin, path: `${target.pathname}${target.search}`, method: o.method as Dispatcher.HttpMethod, headers: o.headers, body: o.body ?? null }, handler);
    } catch (err) {
      settle(err as Error);
    }
  });
}

/** Header names as undici gives them (lower case); a repeated header's values joined with ", ". */
function joinedHeaders(given: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name of Object.keys(given)) {
    const value = given[name];
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
