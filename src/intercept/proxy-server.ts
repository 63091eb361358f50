import { createHash } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import getRawBody from 'raw-body';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { RawRequest } from './raw-request.js';

export interface ProxyReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The proxy port: takes every request as raw bytes (capped at `bodyBytes`, never decompressed, so
 * the body digest is of what the platform will receive) and hands it to `handle`. A bare node:http
 * listener: the port has one route, and a framework's router and response helpers were a measurable
 * share of each change's work. The body is read by raw-body (what express.raw used), with the same
 * limits and checks: a declared length over the cap refused before reading, a length that does not
 * match what arrived refused. A content-encoding is read as the bytes it is and refused by the
 * platform's classification (ADAPT_MEDIA_TYPE_UNSUPPORTED), where the refusal is recorded.
 */
export function createProxyApp(options: {
  bodyBytes: number;
  handle: (req: RawRequest) => Promise<ProxyReply>;
  onError: (error: FlaggateError) => ProxyReply;
}): RequestListener {
  return (req, res) => {
    // A reply that cannot be written (a header value node:http refuses) must not become an
    // unhandled rejection: the request gets the error, or its connection is cut.
    serve(req, res, options).catch((err: unknown) => {
      try {
        if (res.headersSent) res.destroy();
        else send(res, options.onError(asFlaggateError(err)));
      } catch {
        res.destroy();
      }
    });
  };
}

async function serve(req: IncomingMessage, res: ServerResponse, options: Parameters<typeof createProxyApp>[0]): Promise<void> {
  let body: Buffer;
  try {
    body = await readBody(req, options.bodyBytes);
  } catch (err) {
    // Too large, compressed, aborted, a length that does not match: the request goes no further.
    send(res, options.onError(bodyError(err as { type?: string }, options.bodyBytes)));
    return;
  }
  let reply: ProxyReply;
  try {
    reply = await options.handle(toRawRequest(req, body));
  } catch (err) {
    reply = options.onError(asFlaggateError(err));
  }
  send(res, reply);
}

/** The whole body, or empty when the request declares none (no Content-Length, no Transfer-Encoding). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  // A declared empty body (a toggle's POST) needs no read: node's parser has taken the whole message.
  if (req.headers['transfer-encoding'] === undefined && (declared === undefined || declared === '0' || Number.isNaN(Number(declared)))) return Buffer.alloc(0);
  return getRawBody(req, { length: declared, limit });
}

function toRawRequest(req: IncomingMessage, body: Buffer): RawRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method!.toUpperCase(),
    path: req.url!,
    headers,
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
}

function bodyError(err: { type?: string; status?: number }, limit: number): FlaggateError {
  switch (err.type) {
    case 'entity.too.large':
      return new FlaggateError('INTERCEPT_BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`);
    case 'charset.unsupported':
      return new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', 'unsupported charset');
    default:
      return new FlaggateError('ADAPT_BODY_MALFORMED', 'the request body could not be read', { cause: err });
  }
}

export function send(res: ServerResponse, reply: ProxyReply): void {
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(reply.body);
}
