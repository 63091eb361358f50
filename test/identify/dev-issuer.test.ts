import { mkdtemp, readFile, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { ensureDevIssuer, mintDevToken } from '../../src/identify/index.js';
import { NOW, NOW_MS } from './config.js';

let dataDir: string;
beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flaggate-dev-issuer-'));
});
afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

const keyPath = () => join(dataDir, 'dev-issuer', 'private.jwk.json');
const jwksPath = () => join(dataDir, 'dev-issuer', 'jwks.json');

describe('ensureDevIssuer', () => {
  it('creates an Ed25519 private key readable only by its owner', async () => {
    const { kid, jwks } = await ensureDevIssuer(dataDir);
    const info = await stat(keyPath());
    expect(info.mode & 0o777).toBe(0o600);
    const jwk = JSON.parse(await readFile(keyPath(), 'utf8'));
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(typeof jwk.d).toBe('string');
    expect(kid).toBe(await calculateJwkThumbprint({ kty: 'OKP', crv: 'Ed25519', x: jwk.x }));
    expect(jwks.keys).toEqual([{ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid, alg: 'EdDSA', use: 'sig' }]);
  });

  it('publishes only the public key in jwks.json', async () => {
    const { jwks } = await ensureDevIssuer(dataDir);
    const published = JSON.parse(await readFile(jwksPath(), 'utf8'));
    expect(published).toEqual(jwks);
    expect(published.keys[0]).not.toHaveProperty('d');
  });

  it('reuses the key it created instead of replacing it', async () => {
    const first = await ensureDevIssuer(dataDir);
    const before = await readFile(keyPath(), 'utf8');
    const inode = (await stat(keyPath())).ino;
    const second = await ensureDevIssuer(dataDir);
    expect(second.kid).toBe(first.kid);
    expect(await readFile(keyPath(), 'utf8')).toBe(before);
    expect((await stat(keyPath())).ino).toBe(inode);
  });

  it('settles on a single key when several callers create it at once', async () => {
    const issuers = await Promise.all([1, 2, 3, 4].map(() => ensureDevIssuer(dataDir)));
    const { kid } = await ensureDevIssuer(dataDir);
    expect(new Set(issuers.map((i) => i.kid))).toEqual(new Set([kid]));
  });

  it('rewrites a jwks.json that no longer matches the key', async () => {
    const { jwks } = await ensureDevIssuer(dataDir);
    await writeFile(jwksPath(), '{"keys":[]}');
    await ensureDevIssuer(dataDir);
    expect(JSON.parse(await readFile(jwksPath(), 'utf8'))).toEqual(jwks);
  });

  it('rejects a private key file that is not an Ed25519 JWK with CONFIG_INVALID', async () => {
    await mkdir(join(dataDir, 'dev-issuer'), { recursive: true });
    await writeFile(keyPath(), '{"kty":"oct","k":"c2VjcmV0"}', { mode: 0o600 });
    await expect(ensureDevIssuer(dataDir)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('mintDevToken', () => {
  const clock = fixedClock(NOW_MS);

  it('signs an EdDSA JWT carrying sub, roles, name and its validity window', async () => {
    const token = await mintDevToken({ dataDir, sub: 'alice', roles: ['release_engineer'], name: 'Alice', clock });
    const { jwks, kid } = await ensureDevIssuer(dataDir);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', typ: 'JWT', kid });
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), {
      issuer: 'flaggate-dev',
      audience: 'flaggate',
      currentDate: new Date(NOW_MS),
    });
    expect(payload).toMatchObject({ sub: 'alice', roles: ['release_engineer'], name: 'Alice', iat: NOW, nbf: NOW, exp: NOW + 3600 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('uses the issuer, audience and lifetime it is given', async () => {
    const token = await mintDevToken({ dataDir, sub: 'bob', roles: [], clock, ttlSeconds: 60, issuer: 'dev-b', audience: 'aud-b' });
    const { jwks } = await ensureDevIssuer(dataDir);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { currentDate: new Date(NOW_MS) });
    expect(payload).toMatchObject({ iss: 'dev-b', aud: 'aud-b', exp: NOW + 60 });
    expect(payload).not.toHaveProperty('name');
  });

  it.each([
    { name: 'an empty sub', opts: { sub: '', roles: [] } },
    { name: 'a non-string role', opts: { sub: 'a', roles: [1 as unknown as string] } },
    { name: 'a zero lifetime', opts: { sub: 'a', roles: [], ttlSeconds: 0 } },
    { name: 'a fractional lifetime', opts: { sub: 'a', roles: [], ttlSeconds: 1.5 } },
  ])('rejects a call with $name as a TypeError', async ({ opts }) => {
    await expect(mintDevToken({ dataDir, clock, ...opts })).rejects.toBeInstanceOf(TypeError);
  });
});
