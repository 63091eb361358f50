import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { exchange } from '../src/http-client.js';

const servers: Server[] = [];

/** A real server on loopback; it stops after the test, dropping whatever it still holds open. */
async function serve(handle: (req: IncomingMessage, res: ServerResponse, body: Buffer) => void): Promise<string> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks)));
  });
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('exchange', () => {
  it('sends method, path, query, headers and body, and reads status, lower-case headers and the whole body', async () => {
    let seen: { method?: string; url?: string; auth?: string; body?: string } = {};
    const big = Buffer.alloc(300_000, 'x'); // many socket reads
    const base = await serve((req, res, body) => {
      seen = { method: req.method, url: req.url, auth: req.headers.authorization, body: body.toString() };
      res.setHeader('X-Repeated', ['a', 'b']);
      res.setHeader('Content-Type', 'application/json');
      res.end(big);
    });
    const reply = await exchange(`${base}/api/x%20y?a=1&b=2#frag`, { method: 'PUT', headers: { authorization: 'Bearer t' }, body: Buffer.from('{"on":true}'), timeoutMs: 5_000 });
    expect(seen).toEqual({ method: 'PUT', url: '/api/x%20y?a=1&b=2', auth: 'Bearer t', body: '{"on":true}' });
    expect(reply.status).toBe(200);
    expect(reply.headers['x-repeated']).toBe('a, b');
    expect(reply.headers['content-type']).toBe('application/json');
    expect(reply.body.equals(big)).toBe(true);
  });

  it('returns a redirect as it is, without following it', async () => {
    let followed = 0;
    const base = await serve((req, res) => {
      if (req.url === '/elsewhere') followed += 1;
      res.writeHead(307, { location: '/elsewhere' }).end('moved');
    });
    const reply = await exchange(`${base}/here`, { method: 'POST', headers: {}, body: Buffer.from('{}'), timeoutMs: 5_000 });
    expect(reply.status).toBe(307);
    expect(reply.headers.location).toBe('/elsewhere');
    expect(reply.body.toString()).toBe('moved');
    expect(followed).toBe(0);
  });

  it('skips informational replies and keeps the final one', async () => {
    const base = await serve((_req, res) => {
      res.writeEarlyHints({ link: '</a.css>; rel=preload' }, () => res.writeHead(201, { 'x-final': '1' }).end('done'));
    });
    const reply = await exchange(`${base}/`, { method: 'GET', headers: {}, timeoutMs: 5_000 });
    expect(reply.status).toBe(201);
    expect(reply.headers['x-final']).toBe('1');
    expect(reply.headers.link).toBeUndefined();
    expect(reply.body.toString()).toBe('done');
  });

  it('fails with a TimeoutError at its deadline, whether no headers or only part of the body came', async () => {
    const base = await serve((req, res) => {
      if (req.url === '/part') {
        res.writeHead(200, { 'content-length': '10' });
        res.write('12345');
      }
      // otherwise: never answers
    });
    for (const path of ['/silent', '/part']) {
      const started = performance.now();
      const err = await exchange(`${base}${path}`, { method: 'GET', headers: {}, timeoutMs: 150 }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('TimeoutError');
      expect(performance.now() - started).toBeGreaterThanOrEqual(140);
      expect(performance.now() - started).toBeLessThan(3_000);
    }
  });

  it('fails with the connection error when nothing listens, and when the server resets mid-body', async () => {
    const closed = await serve(() => undefined);
    const port = new URL(closed).port;
    servers.pop()!.close();
    const refused = await exchange(`http://127.0.0.1:${port}/`, { method: 'GET', headers: {}, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);
    expect((refused as Error).name).not.toBe('TimeoutError');
    const base = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial', () => res.socket?.destroy());
    });
    const reset = await exchange(`${base}/`, { method: 'GET', headers: {}, timeoutMs: 5_000 }).catch((e: unknown) => e);
    expect(reset).toBeInstanceOf(Error);
    expect((reset as Error).name).not.toBe('TimeoutError');
  });

  it('refuses a header value undici will not send, as an error rather than a throw', async () => {
    const base = await serve((_req, res) => res.end('ok'));
    const sent = exchange(`${base}/`, { method: 'GET', headers: { 'x-bad': 'a\r\nInjected: 1' }, timeoutMs: 5_000 });
    await expect(sent).rejects.toThrow();
  });
});
