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
}

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
    const settle = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
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
        abortSent = (reason) => controller.abort(reason);
      },
      onResponseStart(_controller, statusCode, responseHeaders) {
        if (statusCode < 200) return; // 1xx: informational, the reply is still to come
        status = statusCode;
        headers = joinedHeaders(responseHeaders);
        chunks.length = 0;
      },
      onResponseData(_controller, chunk) {
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
