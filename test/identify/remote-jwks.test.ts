import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import type { FlaggateError } from '../../src/errors.js';
import { createIdentify } from '../../src/identify/index.js';
import { jwksOf, signWith, testKey } from '../fixtures/jwt/forge.js';
import type { TestKey } from '../fixtures/jwt/forge.js';
import { NOW, NOW_MS, identityConfig } from './config.js';

const ISS = 'https://idp.test/realms/flaggate';
const clock = fixedClock(NOW_MS);

let dataDir: string;
let server: Server;
let base: string;
let key: TestKey;
const hits: Record<string, number> = {};

/** A small issuer: `/jwks` serves the key set, `/broken` fails, `/garbage` is not JSON, `/empty` is not a set. */
beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flaggate-remote-jwks-'));
  key = await testKey('ES256', 'idp-1');
  server = createServer((req, res) => {
    // Counted per full URL (tests use distinct query strings), routed by path.
    hits[req.url ?? ''] = (hits[req.url ?? ''] ?? 0) + 1;
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/jwks') {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' }).end(JSON.stringify(jwksOf(key)));
    } else if (path === '/garbage') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>');
    } else if (path === '/empty') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"keys":"none"}');
    } else {
      res.writeHead(500).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
  await rm(dataDir, { recursive: true, force: true });
});

function remoteIdentify(jwksUrl: string) {
  const identity = identityConfig({ devIssuer: false, issuer: ISS, jwksUrl, rolesClaim: 'realm_access.roles' });
  return createIdentify({ identity, dataDir, tokenBytes: 8192, clock }).identify;
}

const token = (k: TestKey) =>
  signWith(k, { iss: ISS, aud: 'flaggate', sub: 'u-123', now: NOW, claims: { realm_access: { roles: ['release_engineer'] }, preferred_username: 'dana' } });

describe('identify with a remote JWKS', () => {
  it('returns an oidc Actor for a token signed by a published key', async () => {
    const actor = await remoteIdentify(`${base}/jwks`)(`Bearer ${await token(key)}`);
    expect(actor).toMatchObject({ id: 'u-123', displayName: 'dana', authMethod: 'oidc', roles: ['release_engineer'] });
  });

  it('fetches the key set once and serves later tokens from its cache', async () => {
    const identify = remoteIdentify(`${base}/jwks?cache`);
    await identify(`Bearer ${await token(key)}`);
    await identify(`Bearer ${await token(key)}`);
    expect(hits['/jwks?cache']).toBe(1);
  });

  it('rejects a token whose kid the issuer does not publish with IDENTIFY_KEY_UNKNOWN', async () => {
    const stranger = await testKey('ES256', 'idp-rotated-away');
    await expect(remoteIdentify(`${base}/jwks`)(`Bearer ${await token(stranger)}`)).rejects.toMatchObject({
      code: 'IDENTIFY_KEY_UNKNOWN',
    });
  });

  it.each([
    { name: 'answers 500', path: '/broken' },
    { name: 'answers with something other than JSON', path: '/garbage' },
    { name: 'answers with JSON that is not a key set', path: '/empty' },
  ])('rejects a token with IDENTIFY_JWKS_UNAVAILABLE when the JWKS server $name', async ({ path }) => {
    await expect(remoteIdentify(`${base}${path}`)(`Bearer ${await token(key)}`)).rejects.toMatchObject({
      code: 'IDENTIFY_JWKS_UNAVAILABLE',
    });
  });

  it('rejects a token with IDENTIFY_JWKS_UNAVAILABLE when the JWKS server is down', async () => {
    // A port that was just bound and released: nothing listens there.
    const down = createServer();
    await new Promise<void>((resolve) => down.listen(0, '127.0.0.1', resolve));
    const { port } = down.address() as AddressInfo;
    await new Promise<void>((resolve) => down.close(() => resolve()));

    const err = await remoteIdentify(`http://127.0.0.1:${port}/jwks`)(`Bearer ${await token(key)}`).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IDENTIFY_JWKS_UNAVAILABLE', status: 503 });
    expect((err as FlaggateError).cause).toBeDefined();
  });

  it('checks the algorithm before contacting the JWKS server', async () => {
    const before = hits['/jwks?alg'] ?? 0;
    const es384 = await testKey('ES384', 'idp-1');
    await expect(remoteIdentify(`${base}/jwks?alg`)(`Bearer ${await token(es384)}`)).rejects.toMatchObject({
      code: 'IDENTIFY_ALG_NOT_ALLOWED',
    });
    expect(hits['/jwks?alg'] ?? 0).toBe(before);
  });
});
