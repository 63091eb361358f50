import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decidedRequest } from '../../src/platforms/request/index.js';
import { createHttpForwarder } from '../../src/forward/index.js';

let server: Server;
let baseUrl: string;
let seen: { method?: string; url?: string; headers?: IncomingHttpHeaders; body?: Buffer } = {};

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen = { method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      res.writeHead(201, { 'content-type': 'application/json', 'set-cookie': 'session=platform', 'x-platform': 'yes' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe('createHttpForwarder', () => {
  it('sends the decided request with the platform credential and only headers flaggate writes, the body byte for byte', async () => {
    const forward = createHttpForwarder({ baseUrl: baseUrl + '/', token: 'platform-secret', timeoutMs: 2000 });
    const body = Buffer.from('{"b": 1,   "a":"\u00e9"}\n', 'utf8');
    const res = await forward(decidedRequest('POST', '/api/x?y=1', 'application/json', body));
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/api/x?y=1');
    expect(seen.headers?.authorization).toBe('platform-secret');
    expect(seen.headers?.['content-type']).toBe('application/json');
    // Nothing of the client's: no Forwarded/X-Forwarded-*, cookies or flaggate headers can reach it.
    expect(Object.keys(seen.headers ?? {}).filter((h) => /forwarded|cookie|x-flaggate|x-request-id/.test(h))).toEqual([]);
    expect(seen.body).toEqual(body);
    expect(res.status).toBe(201);
    expect(res.headers['x-platform']).toBe('yes');
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.body.toString()).toBe('{"ok":true}');
  });

  it('refuses a body that is not the one whose digest was decided', async () => {
    const forward = createHttpForwarder({ baseUrl, token: 't', timeoutMs: 2000 });
    const decided = decidedRequest('PUT', '/api/x', 'application/json', Buffer.from('{"rollout":10}'));
    await expect(forward({ ...decided, body: Buffer.from('{"rollout":100}') })).rejects.toThrow(/not the decided one/);
  });

  it('rejects with FORWARD_PLATFORM_UNREACHABLE when nothing listens, saying the platform cannot have acted', async () => {
    const forward = createHttpForwarder({ baseUrl: 'http://127.0.0.1:1', timeoutMs: 2000 });
    await expect(forward(decidedRequest('GET', '/', null, Buffer.alloc(0)))).rejects.toMatchObject({ code: 'FORWARD_PLATFORM_UNREACHABLE', details: { timedOut: false, mayHaveActed: false } });
  });

  // A platform that acts and then drops the connection, or whose reply is cut off for its size, has
  // the request: the outcome is unknown, never failed.
  it.each([
    { name: 'resets the connection after reading the request', respond: (res: ServerResponse) => res.socket?.destroy() },
    { name: 'sends a reply past the size limit', respond: (res: ServerResponse) => res.writeHead(200).end(Buffer.alloc(3 * 1024 * 1024)) },
  ])('says the platform may have acted when it $name', async ({ respond }) => {
    const platform = createServer((req, res) => {
      req.resume();
      req.on('end', () => respond(res));
    });
    await new Promise<void>((r) => platform.listen(0, '127.0.0.1', r));
    try {
      const forward = createHttpForwarder({ baseUrl: `http://127.0.0.1:${(platform.address() as AddressInfo).port}`, timeoutMs: 2000, maxReplyBytes: 1024 * 1024 });
      await expect(forward(decidedRequest('POST', '/api/x', 'application/json', Buffer.from('{}')))).rejects.toMatchObject({
        code: 'FORWARD_PLATFORM_UNREACHABLE',
        details: { timedOut: false, mayHaveActed: true },
      });
    } finally {
      platform.closeAllConnections();
      await new Promise((r) => platform.close(r));
    }
  });

  // A timeout may come after the platform acted, so it must be told apart (the outcome is then
  // "unknown", not "failed"): whether no headers come, or the body stops halfway.
  it.each([
    { name: 'never answers', respond: (_res: ServerResponse) => undefined },
    { name: 'stops sending its body halfway', respond: (res: ServerResponse) => res.writeHead(200, { 'content-length': '100' }).write('{"half":') },
  ])('rejects with FORWARD_PLATFORM_UNREACHABLE and timedOut when the platform $name', async ({ respond }) => {
    const stalled = createServer((req, res) => {
      req.resume();
      respond(res);
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    try {
      const forward = createHttpForwarder({ baseUrl: `http://127.0.0.1:${(stalled.address() as AddressInfo).port}`, timeoutMs: 300 });
      const started = Date.now();
      await expect(forward(decidedRequest('POST', '/api/x', 'application/json', Buffer.from('{}')))).rejects.toMatchObject({
        code: 'FORWARD_PLATFORM_UNREACHABLE',
        details: { timedOut: true },
      });
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      stalled.closeAllConnections();
      await new Promise<void>((r) => stalled.close(() => r()));
    }
  });
});
