/**
 * The test servers' start on a free port (`onFreePort`, used by PostgreSQL and Unleash): a port
 * another process took between being found free and being bound is given up for another.
 */
import { createServer, type Server } from 'node:net';
import { describe, expect, it } from 'vitest';
import { onFreePort } from '../support/postgres.js';

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });

describe('onFreePort', () => {
  it('tries another port when the one found free was taken before the server bound it', async () => {
    const tried: number[] = [];
    const holders: Server[] = [];
    try {
      const server = await onFreePort(
        async (port) => {
          tried.push(port);
          // The first port is taken by another listener just before this one binds it.
          if (tried.length === 1) holders.push(await listen(port));
          return listen(port);
        },
        (err) => (err as NodeJS.ErrnoException).code === 'EADDRINUSE',
      );
      holders.push(server);
      expect(tried).toHaveLength(2);
      expect((server.address() as { port: number }).port).toBe(tried[1]);
    } finally {
      await Promise.all(holders.map((h) => new Promise((r) => h.close(r))));
    }
  });

  it('gives up after three ports, and at once on any other failure', async () => {
    let calls = 0;
    const taken = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' });
    await expect(
      onFreePort(async () => {
        calls++;
        throw taken;
      }, () => true),
    ).rejects.toBe(taken);
    expect(calls).toBe(3);
    calls = 0;
    const other = new Error('initdb failed');
    await expect(
      onFreePort(async () => {
        calls++;
        throw other;
      }, (err) => err !== other),
    ).rejects.toBe(other);
    expect(calls).toBe(1);
  });
});
