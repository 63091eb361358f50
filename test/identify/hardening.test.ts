import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import type { Config } from '../../src/config/schema.js';
import { createIdentify } from '../../src/identify/index.js';
import { jwksOf, signWith, testKey, type TestKey } from '../fixtures/jwt/forge.js';
import { NOW, NOW_MS, identityConfig } from './config.js';

const ISS = 'https://idp.test';
const clock = fixedClock(NOW_MS);

let dataDir: string;
let server: Server;
let base: string;
let oldKey: TestKey;
let newKey: TestKey;
/** What /jwks publishes now, per query string (each test its own issuer). */
const published: Record<string, TestKey[]> = {};
const hits: Record<string, number> = {};

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flaggate-hardening-'));
  [oldKey, newKey] = await Promise.all([testKey('ES256', 'k-old'), testKey('ES256', 'k-new')]);
  await writeFile(join(dataDir, 'keys.json'), JSON.stringify(jwksOf(oldKey)));
  server = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://x').search;
    hits[q] = (hits[q] ?? 0) + 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(...(published[q] ?? []))));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await rm(dataDir, { recursive: true, force: true });
});

const sign = (key: TestKey, claims: Record<string, unknown> = { roles: ['qa'] }) => signWith(key, { iss: ISS, aud: 'flaggate', sub: 'svc-1', now: NOW, claims });

function identifyWith(overrides: Partial<Config['identity']>) {
  const identity = identityConfig({ devIssuer: false, issuer: ISS, jwksFile: 'keys.json', ...overrides });
  return createIdentify({ identity, dataDir, tokenBytes: 8192, clock }).identify;
}

describe('identify: a rotating remote JWKS', () => {
  it('refetches the key set when a token names a kid it has not seen, then serves from the cache', async () => {
    published['?rotate'] = [oldKey];
    const identify = identifyWith({ jwksFile: undefined, jwksUrl: `${base}?rotate`, jwksCooldownSeconds: 0 });
    await identify(`Bearer ${await sign(oldKey)}`);
    published['?rotate'] = [oldKey, newKey];
    await expect(identify(`Bearer ${await sign(newKey)}`)).resolves.toMatchObject({ id: 'svc-1' });
    await identify(`Bearer ${await sign(newKey)}`);
    expect(hits['?rotate']).toBe(2);
  });

  it('refetches at most once per cooldown, however many unknown kids arrive', async () => {
    published['?cool'] = [oldKey];
    const identify = identifyWith({ jwksFile: undefined, jwksUrl: `${base}?cool`, jwksCooldownSeconds: 600 });
    await identify(`Bearer ${await sign(oldKey)}`);
    for (let i = 0; i < 5; i++) {
      const stranger = await testKey('ES256', `made-up-${i}`);
      await expect(identify(`Bearer ${await sign(stranger)}`)).rejects.toMatchObject({ code: 'IDENTIFY_KEY_UNKNOWN' });
    }
    expect(hits['?cool']).toBe(1);
  });
});

describe('identify: groups', () => {
  it('adds the names in the configured groups claim to the roles, each as group:<name>', async () => {
    const actor = await identifyWith({ groupsClaim: 'groups' })(`Bearer ${await sign(oldKey, { roles: ['qa'], groups: ['flaggate-release', 'qa'] })}`);
    expect(actor.roles).toEqual(['qa', 'group:flaggate-release', 'group:qa']);
  });

  it('accepts a token with groups and no roles claim when a groups claim is configured', async () => {
    const actor = await identifyWith({ groupsClaim: 'realm.groups' })(`Bearer ${await sign(oldKey, { realm: { groups: ['flaggate-admin'] } })}`);
    expect(actor.roles).toEqual(['group:flaggate-admin']);
  });

  it('takes a groups claim that is one string as one group, spaces and all', async () => {
    const actor = await identifyWith({ groupsClaim: 'groups' })(`Bearer ${await sign(oldKey, { groups: 'release engineers flag_admin' })}`);
    expect(actor.roles).toEqual(['group:release engineers flag_admin']);
  });

  it('refuses a role name that starts with group: when a groups claim is configured, so no role passes for a group', async () => {
    await expect(identifyWith({ groupsClaim: 'groups' })(`Bearer ${await sign(oldKey, { roles: ['group:flaggate-admin'], groups: [] })}`)).rejects.toMatchObject({
      code: 'IDENTIFY_CLAIMS_INVALID',
      details: { claim: 'roles' },
    });
    const actor = await identifyWith({})(`Bearer ${await sign(oldKey, { roles: ['group:flaggate-admin'] })}`);
    expect(actor.roles).toEqual(['group:flaggate-admin']);
  });

  it('rejects a groups claim that is not a list of names with IDENTIFY_CLAIMS_INVALID', async () => {
    await expect(identifyWith({ groupsClaim: 'groups' })(`Bearer ${await sign(oldKey, { roles: [], groups: [{ admin: true }] })}`)).rejects.toMatchObject({
      code: 'IDENTIFY_CLAIMS_INVALID',
      details: { claim: 'groups' },
    });
  });
});

describe('identify: service accounts', () => {
  it.each([
    { name: 'gty client-credentials (Auth0)', claims: { gty: 'client-credentials' } },
    { name: 'client_id equal to sub', claims: { client_id: 'svc-1' } },
    { name: 'cid equal to sub (Okta)', claims: { cid: 'svc-1' } },
    { name: 'a service-account- username (Keycloak)', claims: { azp: 'ci', preferred_username: 'service-account-ci' } },
  ])('marks a token with $name as client-credentials', async ({ claims }) => {
    const actor = await identifyWith({})(`Bearer ${await sign(oldKey, { roles: ['qa'], ...claims })}`);
    expect(actor.authMethod).toBe('client-credentials');
  });

  it('keeps a person token whose azp names the client they logged in through', async () => {
    const actor = await identifyWith({})(`Bearer ${await sign(oldKey, { roles: ['qa'], azp: 'flaggate-cli', preferred_username: 'dana' })}`);
    expect(actor.authMethod).toBe('jwt');
  });

  it('follows a configured service-account claim only, when one is set', async () => {
    const identify = identifyWith({ serviceAccountClaim: 'ext.machine' });
    expect((await identify(`Bearer ${await sign(oldKey, { roles: [], ext: { machine: true } })}`)).authMethod).toBe('client-credentials');
    expect((await identify(`Bearer ${await sign(oldKey, { roles: [], gty: 'client-credentials' })}`)).authMethod).toBe('jwt');
  });
});
