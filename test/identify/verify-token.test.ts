import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errors } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { fixedClock } from '../../src/clock.js';
import { FlaggateError } from '../../src/errors.js';
import { createIdentify, ensureDevIssuer, mintDevToken } from '../../src/identify/index.js';
import { hmacWithPublicKey, jwksOf, signWith, testKey, unsecuredToken, withHeader, withPayload } from '../fixtures/jwt/forge.js';
import type { SignOptions, TestKey } from '../fixtures/jwt/forge.js';
import { NOW, NOW_MS, identityConfig } from './config.js';

const ISS = 'https://issuer.test';
const AUD = 'flaggate';
const clock = fixedClock(NOW_MS);
const TOKEN_BYTES = 8 * 1024;

let dataDir: string;
let edKey: TestKey;
let edKey2: TestKey;
let esKey: TestKey;
let es384Key: TestKey;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flaggate-identify-'));
  [edKey, edKey2, esKey, es384Key] = await Promise.all([
    testKey('EdDSA', 'ed-1'),
    testKey('EdDSA', 'ed-2'),
    testKey('ES256', 'es-1'),
    testKey('ES384', 'es384-1'),
  ]);
  await writeFile(join(dataDir, 'trusted.jwks.json'), JSON.stringify(jwksOf(edKey, edKey2, esKey, es384Key)));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

/** A verifier trusting `trusted.jwks.json` for issuer ISS. */
function fileIdentify(overrides: Partial<Config['identity']> = {}) {
  const identity = identityConfig({ devIssuer: false, issuer: ISS, jwksFile: 'trusted.jwks.json', ...overrides });
  return createIdentify({ identity, dataDir, tokenBytes: TOKEN_BYTES, clock });
}

const sign = (key: TestKey, o: Partial<SignOptions> = {}) =>
  signWith(key, { iss: ISS, aud: AUD, sub: 'carol', now: NOW, ...o, claims: { roles: ['viewer'], ...o.claims } });
const bearer = (token: string) => `Bearer ${token}`;

describe('createIdentify', () => {
  it.each(['HS256', 'HS512', 'none', 'dir', 'RSA-OAEP'])('refuses a configuration allowing %s as a TypeError', (alg) => {
    expect(() => fileIdentify({ algorithms: ['EdDSA', alg] })).toThrow(TypeError);
  });

  it('refuses a configuration with no key source as a TypeError', () => {
    const identity = identityConfig({ devIssuer: false });
    expect(() => createIdentify({ identity, dataDir, tokenBytes: TOKEN_BYTES, clock })).toThrow(TypeError);
  });
});

describe('identify with the development issuer', () => {
  const identify = () => createIdentify({ identity: identityConfig(), dataDir, tokenBytes: TOKEN_BYTES, clock }).identify;

  it('returns the Actor of a valid development token', async () => {
    const token = await mintDevToken({ dataDir, sub: 'alice', roles: ['release_engineer', 'viewer'], name: 'Alice', clock });
    const actor = await identify()(bearer(token));
    expect(actor).toEqual({
      id: 'alice',
      displayName: 'Alice',
      authMethod: 'dev-token',
      roles: ['release_engineer', 'viewer'],
      claims: expect.objectContaining({ sub: 'alice', iss: 'flaggate-dev', aud: 'flaggate', roles: ['release_engineer', 'viewer'] }),
    });
    // The token itself never travels with the actor.
    expect(JSON.stringify(actor)).not.toContain(token.split('.')[2]);
  });

  it('accepts the Bearer scheme in any letter case', async () => {
    const token = await mintDevToken({ dataDir, sub: 'alice', roles: [], clock });
    await expect(identify()(`bEaReR ${token}`)).resolves.toMatchObject({ id: 'alice', displayName: 'alice', roles: [] });
  });

  it('rejects a token from another development issuer with IDENTIFY_KEY_UNKNOWN, or IDENTIFY_TOKEN_INVALID under the trusted kid', async () => {
    const otherDir = await mkdtemp(join(tmpdir(), 'flaggate-identify-other-'));
    try {
      // Both issuers derive the kid from their key, so a different key means a different kid.
      const token = await mintDevToken({ dataDir: otherDir, sub: 'mallory', roles: ['admin'], clock });
      const { kid } = await ensureDevIssuer(dataDir);
      await expect(identify()(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_KEY_UNKNOWN' });
      await expect(identify()(bearer(withHeader(token, { alg: 'EdDSA', typ: 'JWT', kid })))).rejects.toMatchObject({
        code: 'IDENTIFY_TOKEN_INVALID',
      });
    } finally {
      await rm(otherDir, { recursive: true, force: true });
    }
  });

  it('rejects an expired development token with IDENTIFY_TOKEN_EXPIRED', async () => {
    const early = fixedClock(NOW_MS - 2 * 3600_000);
    const token = await mintDevToken({ dataDir, sub: 'alice', roles: [], clock: early });
    await expect(identify()(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_EXPIRED' });
  });
});

describe('identify: the Authorization header', () => {
  let good: string;
  beforeAll(async () => {
    good = await sign(edKey);
  });

  it.each([
    { name: 'the header is absent', header: () => undefined, code: 'IDENTIFY_TOKEN_MISSING' },
    { name: 'the header is empty', header: () => '', code: 'IDENTIFY_TOKEN_MISSING' },
    { name: 'the scheme is not Bearer', header: () => `Basic ${good}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the scheme has no token', header: () => 'Bearer', code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'it carries two tokens', header: () => `Bearer ${good} ${good}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'it carries two credentials', header: () => `Bearer ${good}, Bearer ${good}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the token is oversized', header: () => `Bearer ${good}${'A'.repeat(TOKEN_BYTES)}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the header is oversized', header: () => `Bearer ${'A'.repeat(10 * TOKEN_BYTES)}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the token is garbage', header: () => 'Bearer not-a-jwt', code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the token has four segments', header: () => `Bearer ${good}.AAAA`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the token is a JWE', header: () => 'Bearer aaaa.bbbb.cccc.dddd.eeee', code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the token has no signature', header: () => `Bearer ${good.split('.').slice(0, 2).join('.')}.`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the header segment is not JSON', header: () => `Bearer AAAA.${good.split('.').slice(1).join('.')}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the header is a JSON array', header: () => `Bearer ${withHeader(good, [] as unknown as Record<string, unknown>)}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
    { name: 'the header has no alg', header: () => `Bearer ${withHeader(good, { typ: 'JWT', kid: 'ed-1' })}`, code: 'IDENTIFY_TOKEN_MALFORMED' },
  ])('rejects a request when $name', async ({ header, code }) => {
    await expect(fileIdentify().identify(header())).rejects.toMatchObject({ code });
  });
});

describe('identify: algorithms', () => {
  it('rejects an alg:none token with IDENTIFY_ALG_NOT_ALLOWED', async () => {
    const token = unsecuredToken({ iss: ISS, aud: AUD, sub: 'mallory', exp: NOW + 600 });
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_ALG_NOT_ALLOWED' });
  });

  it('rejects an alg:None token carrying a signature with IDENTIFY_ALG_NOT_ALLOWED', async () => {
    const token = withHeader(await sign(edKey), { alg: 'None', typ: 'JWT' });
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_ALG_NOT_ALLOWED' });
  });

  it('rejects an HS256 token keyed with the issuer public key with IDENTIFY_ALG_NOT_ALLOWED', async () => {
    const token = await hmacWithPublicKey(edKey, { iss: ISS, aud: AUD, sub: 'mallory', exp: NOW + 600 });
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_ALG_NOT_ALLOWED' });
  });

  it('rejects a trusted ES384 key when only EdDSA is allowed with IDENTIFY_ALG_NOT_ALLOWED', async () => {
    const token = await sign(es384Key);
    await expect(fileIdentify({ algorithms: ['EdDSA', 'ES384'] }).identify(bearer(token))).resolves.toMatchObject({ id: 'carol' });
    await expect(fileIdentify({ algorithms: ['EdDSA'] }).identify(bearer(token))).rejects.toMatchObject({
      code: 'IDENTIFY_ALG_NOT_ALLOWED',
      details: { alg: 'ES384' },
    });
  });

  it('rejects a token whose alg names a key type the kid does not have with IDENTIFY_KEY_UNKNOWN', async () => {
    const token = withHeader(await sign(edKey), { alg: 'ES256', typ: 'JWT', kid: 'ed-1' });
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_KEY_UNKNOWN' });
  });
});

describe('identify: signatures and keys', () => {
  it('returns a jwt Actor for a token from a trusted key file', async () => {
    await expect(fileIdentify().identify(bearer(await sign(esKey)))).resolves.toMatchObject({ id: 'carol', authMethod: 'jwt' });
  });

  it('rejects a token with an unknown kid with IDENTIFY_KEY_UNKNOWN', async () => {
    const stranger = await testKey('EdDSA', 'unknown');
    await expect(fileIdentify().identify(bearer(await sign(stranger)))).rejects.toMatchObject({ code: 'IDENTIFY_KEY_UNKNOWN' });
  });

  it('rejects a token signed by another key under a trusted kid with IDENTIFY_TOKEN_INVALID', async () => {
    const impostor = await testKey('EdDSA', edKey.kid);
    const err = await fileIdentify().identify(bearer(await sign(impostor))).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'IDENTIFY_TOKEN_INVALID' });
    expect((err as FlaggateError).cause).toBeInstanceOf(errors.JWSSignatureVerificationFailed);
  });

  it('rejects a token whose claims were edited after signing with IDENTIFY_TOKEN_INVALID', async () => {
    const token = withPayload(await sign(edKey, { claims: { roles: ['viewer'] } }), (c) => ({ ...c, roles: ['admin'] }));
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_INVALID' });
  });

  it('tries every matching key for a token without a kid', async () => {
    const token = await sign(edKey2, { header: { kid: undefined } });
    await expect(fileIdentify().identify(bearer(token))).resolves.toMatchObject({ id: 'carol' });
  });

  it('rejects a token without a kid that no matching key verifies with IDENTIFY_TOKEN_INVALID', async () => {
    const stranger = await testKey('EdDSA', 'unused');
    const token = await sign(stranger, { header: { kid: undefined } });
    await expect(fileIdentify().identify(bearer(token))).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_INVALID' });
  });

  it('rejects every token with IDENTIFY_JWKS_UNAVAILABLE when the key file is missing', async () => {
    const identify = fileIdentify({ jwksFile: 'absent.jwks.json' }).identify;
    await expect(identify(bearer(await sign(edKey)))).rejects.toMatchObject({ code: 'IDENTIFY_JWKS_UNAVAILABLE' });
  });
});

describe('identify: registered claims', () => {
  it.each([
    { name: 'exp is past by more than the leeway', o: { claims: { exp: NOW - 30 } }, code: 'IDENTIFY_TOKEN_EXPIRED' },
    { name: 'nbf is ahead by more than the leeway', o: { claims: { nbf: NOW + 31 } }, code: 'IDENTIFY_TOKEN_NOT_YET_VALID' },
    { name: 'iss is another issuer', o: { iss: 'https://elsewhere.test' }, code: 'IDENTIFY_ISSUER_MISMATCH' },
    { name: 'iss is absent', o: { claims: { iss: undefined } }, code: 'IDENTIFY_ISSUER_MISMATCH' },
    { name: 'aud is another audience', o: { aud: 'unleash' }, code: 'IDENTIFY_AUDIENCE_MISMATCH' },
    { name: 'aud lists only other audiences', o: { claims: { aud: ['a', 'b'] } }, code: 'IDENTIFY_AUDIENCE_MISMATCH' },
    { name: 'sub is absent', o: { sub: undefined }, code: 'IDENTIFY_CLAIMS_INVALID' },
    { name: 'sub is not a string', o: { claims: { sub: 42 as unknown as string } }, code: 'IDENTIFY_CLAIMS_INVALID' },
    { name: 'exp is absent', o: { claims: { exp: undefined } }, code: 'IDENTIFY_CLAIMS_INVALID' },
    { name: 'exp is not a number', o: { claims: { exp: 'tomorrow' as unknown as number } }, code: 'IDENTIFY_CLAIMS_INVALID' },
    // An ID token of a client whose id is the API's audience passes every other check.
    { name: 'it is an ID token (nonce)', o: { claims: { nonce: 'n-0S6_WzA2Mj' } }, code: 'IDENTIFY_CLAIMS_INVALID' },
    { name: 'it is an ID token (at_hash)', o: { claims: { at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q' } }, code: 'IDENTIFY_CLAIMS_INVALID' },
  ])('rejects a token when $name', async ({ o, code }) => {
    await expect(fileIdentify().identify(bearer(await sign(edKey, o)))).rejects.toMatchObject({ code });
  });

  it.each([
    { name: 'exp is past by less than the leeway', o: { claims: { exp: NOW - 29 } } },
    { name: 'nbf is ahead by exactly the leeway', o: { claims: { nbf: NOW + 30 } } },
    { name: 'aud lists this audience among others', o: { claims: { aud: ['unleash', AUD] } } },
  ])('accepts a token when $name', async ({ o }) => {
    await expect(fileIdentify().identify(bearer(await sign(edKey, o)))).resolves.toMatchObject({ id: 'carol' });
  });

  it('takes a nonce in an access token where configured (Keycloak before 24), still refusing an ID token by its hashes', async () => {
    const identify = fileIdentify({ acceptNonceInAccessTokens: true }).identify;
    await expect(identify(bearer(await sign(edKey, { claims: { nonce: 'n-1' } })))).resolves.toMatchObject({ id: 'carol' });
    await expect(identify(bearer(await sign(edKey, { claims: { nonce: 'n-1', at_hash: 'x' } })))).rejects.toMatchObject({ code: 'IDENTIFY_CLAIMS_INVALID' });
  });

  it('applies no leeway when it is configured as zero', async () => {
    const identify = fileIdentify({ leewaySeconds: 0 }).identify;
    await expect(identify(bearer(await sign(edKey, { claims: { exp: NOW } })))).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_EXPIRED' });
    await expect(identify(bearer(await sign(edKey, { claims: { nbf: NOW + 1 } })))).rejects.toMatchObject({
      code: 'IDENTIFY_TOKEN_NOT_YET_VALID',
    });
    await expect(identify(bearer(await sign(edKey, { claims: { exp: NOW + 1, nbf: NOW } })))).resolves.toMatchObject({ id: 'carol' });
  });

  it('keeps the jose error as the cause', async () => {
    const err = await fileIdentify().identify(bearer(await sign(edKey, { claims: { exp: NOW - 60 } }))).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlaggateError);
    expect((err as FlaggateError).cause).toBeInstanceOf(errors.JWTExpired);
  });
});

describe('identify: roles and display name', () => {
  it.each([
    { name: 'an array', rolesClaim: 'roles', claims: { roles: ['a', 'b'] }, want: ['a', 'b'] },
    { name: 'a space-separated string', rolesClaim: 'scope', claims: { scope: ' a  b a ' }, want: ['a', 'b'] },
    { name: 'a nested path', rolesClaim: 'realm_access.roles', claims: { realm_access: { roles: ['ops'] } }, want: ['ops'] },
    { name: 'an empty array', rolesClaim: 'roles', claims: { roles: [] }, want: [] },
  ])('reads roles from $name', async ({ rolesClaim, claims, want }) => {
    const actor = await fileIdentify({ rolesClaim }).identify(bearer(await sign(edKey, { claims })));
    expect(actor.roles).toEqual(want);
  });

  it.each([
    { name: 'the claim is missing', rolesClaim: 'roles', claims: { roles: undefined } },
    { name: 'the nested path is missing', rolesClaim: 'realm_access.roles', claims: { realm_access: {} } },
    { name: 'the path crosses an array', rolesClaim: 'groups.0', claims: { groups: ['a'] } },
    { name: 'the path names an inherited property', rolesClaim: 'constructor', claims: {} },
    { name: 'the claim is a number', rolesClaim: 'roles', claims: { roles: 7 } },
    { name: 'the array holds a non-string', rolesClaim: 'roles', claims: { roles: ['a', 1] } },
    { name: 'the array holds an empty string', rolesClaim: 'roles', claims: { roles: ['a', ''] } },
    { name: 'the claim is an object', rolesClaim: 'roles', claims: { roles: { a: true } } },
  ])('rejects a token when $name with IDENTIFY_CLAIMS_INVALID', async ({ rolesClaim, claims }) => {
    const token = await sign(edKey, { claims });
    await expect(fileIdentify({ rolesClaim }).identify(bearer(token))).rejects.toMatchObject({
      code: 'IDENTIFY_CLAIMS_INVALID',
      details: { claim: rolesClaim },
    });
  });

  it.each([
    { name: 'the name claim', claims: { roles: [], name: 'Carol C.', preferred_username: 'carol.c' }, want: 'Carol C.' },
    { name: 'preferred_username without a name', claims: { roles: [], preferred_username: 'carol.c' }, want: 'carol.c' },
    { name: 'sub when neither is a string', claims: { roles: [], name: 5, preferred_username: '' }, want: 'carol' },
  ])('takes the display name from $name', async ({ claims, want }) => {
    const actor = await fileIdentify().identify(bearer(await sign(edKey, { claims })));
    expect(actor.displayName).toBe(want);
  });

  it('reads the display name from a configured nested claim', async () => {
    const token = await sign(edKey, { claims: { roles: [], profile: { display: 'C. Carol' } } });
    await expect(fileIdentify({ nameClaim: 'profile.display' }).identify(bearer(token))).resolves.toMatchObject({
      displayName: 'C. Carol',
    });
  });
});
