import { createHash } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { FlaggateError } from '../errors.js';
import type { RawRequest } from './raw-request.js';

export interface ProxyReply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * The proxy port: takes every request as raw bytes (capped at `bodyBytes`, never decompressed, so
 * the body digest is of what the platform will receive) and hands it to `handle`.
 */
export function createProxyApp(options: {
  bodyBytes: number;
  handle: (req: RawRequest) => Promise<ProxyReply>;
  onError: (error: FlaggateError) => ProxyReply;
}): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.use(express.raw({ type: () => true, limit: options.bodyBytes, inflate: false }));
  app.use(async (req: Request, res: Response) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const reply = await options.handle(toRawRequest(req, body));
    send(res, reply);
  });
  // body-parser failures: too large, compressed, aborted. The request goes no further.
  app.use((err: { type?: string; status?: number }, _req: Request, res: Response, _next: NextFunction) => {
    send(res, options.onError(bodyError(err, options.bodyBytes)));
  });
  return app;
}

function toRawRequest(req: Request, body: Buffer): RawRequest {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return {
    method: req.method.toUpperCase(),
    path: req.originalUrl,
    headers,
    body,
    bodySha256: createHash('sha256').update(body).digest('hex'),
  };
}

function bodyError(err: { type?: string; status?: number }, limit: number): FlaggateError {
  switch (err.type) {
    case 'entity.too.large':
      return new FlaggateError('INTERCEPT_BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`);
    case 'encoding.unsupported':
      return new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', 'compressed or unsupported content-encoding is not accepted');
    case 'charset.unsupported':
      return new FlaggateError('ADAPT_MEDIA_TYPE_UNSUPPORTED', 'unsupported charset');
    default:
      return new FlaggateError('ADAPT_BODY_MALFORMED', 'the request body could not be read', { cause: err });
  }
}

export function send(res: Response, reply: ProxyReply): void {
  res.status(reply.status);
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
  res.end(reply.body);
}
