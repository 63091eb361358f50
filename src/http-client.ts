import { Agent, request } from 'undici';

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
 */
export async function exchange(url: string, o: HttpExchange): Promise<HttpReply> {
  // One deadline for the whole exchange, cleared when it ends. AbortSignal.timeout's timer is
  // cleared only once its signal is garbage-collected (through a FinalizationRegistry), or fires.
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new DOMException(`no reply within ${o.timeoutMs} ms`, 'TimeoutError')), o.timeoutMs);
  timer.unref();
  try {
    const res = await request(url, { dispatcher: agent, method: o.method as 'GET', headers: o.headers, body: o.body, signal: deadline.signal });
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(res.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status: res.statusCode, headers, body };
  } finally {
    clearTimeout(timer);
  }
}
