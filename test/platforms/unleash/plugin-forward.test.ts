/**
 * The Unleash plug-in's forward: a tag update Unleash answers with an error may have added some of
 * its tags (its handler adds them one by one, outside a transaction), so the response says the
 * platform may have acted; other changes, and refusals made before the handler, do not.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import type { Platform } from '../../../src/platforms/index.js';
import { unleashPlugin } from '../../../src/platforms/unleash/plugin.js';

let server: Server;
let platform: Platform;
let answer = 400;

beforeAll(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer, { 'content-type': 'application/json' }).end('{"name":"BadDataError"}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  platform = await unleashPlugin.create({ name: 'unleash', targetUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targetToken: 'admin', environment: 'development', timeoutMs: 5_000 });
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function classified(method: string, path: string, body: unknown) {
  const bytes = Buffer.from(JSON.stringify(body));
  const req: RawRequest = { method, path, headers: { 'content-type': 'application/json' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = platform.classify(req);
  if (c.kind !== 'write') throw new TypeError('not a write');
  return c;
}

describe('the Unleash plug-in forward', () => {
  const tagUpdate = () => classified('PUT', '/api/admin/features/checkout/tags', { addedTags: [{ type: 'simple', value: 'aa' }], removedTags: [] });

  it.each([400, 500, 503])('a tag update answered %i may have added tags: mayHaveActed', async (status) => {
    answer = status;
    const { forward, change } = tagUpdate();
    const res = await platform.forward(forward, change);
    expect(res).toMatchObject({ status, mayHaveActed: true });
  });

  it.each([401, 403, 404, 413, 415, 429])('a tag update refused before the handler (%i) wrote nothing', async (status) => {
    answer = status;
    const { forward, change } = tagUpdate();
    expect((await platform.forward(forward, change)).mayHaveActed).toBeUndefined();
  });

  it('another change answered 400 wrote nothing', async () => {
    answer = 400;
    const { forward, change } = classified('POST', '/api/admin/projects/default/features/checkout/environments/development/on', {});
    expect((await platform.forward(forward, change)).mayHaveActed).toBeUndefined();
  });
});
