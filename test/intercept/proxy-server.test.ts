import { createHash } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { FlaggateError } from '../../src/errors.js';
import { createProxyApp, type ProxyReply } from '../../src/intercept/index.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

const errorReply = (error: FlaggateError): ProxyReply => ({ status: error.status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ code: error.code })) });

async function serve(handle: Parameters<typeof createProxyApp>[0]['handle']): Promise<string> {
  const server = createServer(createProxyApp({ bodyBytes: 1024, handle, onError: errorReply }));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Sends `target` exactly as given (a URL string would be normalized by the client). */
function send(base: string, target: string, o: { headers?: Record<string, string>; body?: string } = {}): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method: 'POST', headers: o.headers }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

describe('the proxy port', () => {
  it('hands the body over byte for byte with its digest, and the target as received', async () => {
    let seen: { path: string; body: string; digest: string } | undefined;
    const url = await serve(async (req) => {
      seen = { path: req.path, body: req.body.toString('utf8'), digest: req.bodySha256 };
      return { status: 204, headers: {}, body: Buffer.alloc(0) };
    });
    const res = await send(url, '/api/a/../b?x=%2F', { body: '{"a": 1 }', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(204);
    expect(seen).toEqual({ path: '/api/a/../b?x=%2F', body: '{"a": 1 }', digest: createHash('sha256').update('{"a": 1 }').digest('hex') });
  });

  it.each<{ name: string; headers: Record<string, string>; body: string; code: string; status: number }>([
    { name: 'a body over the limit', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(2000), code: 'INTERCEPT_BODY_TOO_LARGE', status: 413 },
  ])('refuses $name before the pipeline sees it', async ({ headers, body, code, status }) => {
    let handled = 0;
    const url = await serve(async () => {
      handled += 1;
      return { status: 200, headers: {}, body: Buffer.alloc(0) };
    });
    const res = await send(url, '/x', { headers, body });
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toEqual({ code });
    expect(handled).toBe(0);
  });

  it('hands a compressed body over as its bytes, for the platform to refuse and the pipeline to record', async () => {
    let seen: { body: string; encoding: string | undefined } | undefined;
    const url = await serve(async (req) => {
      seen = { body: req.body.toString('utf8'), encoding: req.headers['content-encoding'] };
      return { status: 415, headers: {}, body: Buffer.alloc(0) };
    });
    expect((await send(url, '/x', { headers: { 'content-encoding': 'gzip' }, body: 'xyz' })).status).toBe(415);
    expect(seen).toEqual({ body: 'xyz', encoding: 'gzip' });
  });

  it('answers with the error, and stays up, when the handler throws or its reply cannot be written', async () => {
    const url = await serve(async (req) => {
      if (req.path === '/throws') throw new TypeError('boom');
      return { status: 200, headers: { 'x-bad': 'a\nb' }, body: Buffer.from('never') };
    });
    const thrown = await send(url, '/throws');
    expect(thrown.status).toBe(500);
    expect(JSON.parse(thrown.body)).toEqual({ code: 'INTERNAL' });
    const unwritable = await send(url, '/bad-header');
    expect(unwritable.status).toBe(500);
    expect(JSON.parse(unwritable.body)).toEqual({ code: 'INTERNAL' });
  });
});
