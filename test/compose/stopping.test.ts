import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { listen } from '../../src/compose/index.js';

// A graceful stop finishes what is in flight and takes nothing new, not even on a connection that is
// still open: a request that arrives after the stop began is answered 503 SIDECAR_STOPPING, and
// the application never sees it (nothing is decided or forwarded).
describe('a listening port that is stopping', () => {
  it('answers a request in flight, and refuses one that arrives on the same connection after the stop began', async () => {
    const seen: string[] = [];
    let release: () => void = () => undefined;
    const server = await listen(
      (req, res) => {
        seen.push(req.url!);
        release = () => res.end('done');
      },
      { host: '127.0.0.1', port: 0, headerBytes: 16384 },
    );
    const socket = connect(Number(new URL(server.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
    const ended = new Promise((resolve) => socket.on('close', resolve));
    socket.write('POST /first HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await expect.poll(() => seen).toEqual(['/first']);
    const closed = server.close();
    socket.write('POST /second HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
    await new Promise((r) => setTimeout(r, 50));
    release();
    await ended;
    await closed;
    expect(seen).toEqual(['/first']);
    expect(received).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*done/);
    expect(received).toMatch(/HTTP\/1\.1 503 Service Unavailable[\s\S]*"code":"SIDECAR_STOPPING"/);
  });
});
