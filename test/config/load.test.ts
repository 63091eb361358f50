import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

describe('loadConfig', () => {
  it('fills the embedded defaults: flagd file, dev issuer, JSONL sink, loopback ports', () => {
    const c = loadConfig({ env: {}, cwd: '/srv/app' });
    expect(c).toMatchObject({
      mode: 'development',
      host: '127.0.0.1',
      proxyPort: 8080,
      controlPort: 9090,
      dataDir: '/srv/app/data',
      platform: { name: 'flagd', targetUrl: '/srv/app/data/flags.flagd.json', environment: 'production' },
      identity: { devIssuer: true, issuer: 'flaggate-dev', audience: 'flaggate' },
      audit: { file: '/srv/app/data/ledger.sqlite', chainId: 'local' },
      replicate: { sinks: [{ type: 'jsonl', path: '/srv/app/data/audit.jsonl', required: true }] },
    });
    expect(Object.isFrozen(c.platform)).toBe(true);
  });

  it('lets FLAGGATE_* variables override the file', () => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    writeFileSync(`${tmp.dir}/c.yaml`, 'proxyPort: 7000\nplatform:\n  name: unleash\n  targetUrl: http://127.0.0.1:4242\n');
    const c = loadConfig({ env: { FLAGGATE_CONFIG: `${tmp.dir}/c.yaml`, FLAGGATE_PROXY_PORT: '7100', FLAGGATE_TARGET_TOKEN: 't' }, cwd: tmp.dir });
    expect(c.proxyPort).toBe(7100);
    expect(c.platform).toMatchObject({ name: 'unleash', targetUrl: 'http://127.0.0.1:4242', targetToken: 't' });
  });

  it.each([
    { name: 'a port out of range', env: { FLAGGATE_PROXY_PORT: '70000' }, key: 'proxyPort' },
    { name: 'an unknown platform', env: { FLAGGATE_PLATFORM: 'acme' }, key: 'platform.name' },
    { name: 'unleash without a URL', env: { FLAGGATE_PLATFORM: 'unleash' }, key: 'platform.targetUrl' },
    { name: 'the dev issuer in production', env: { FLAGGATE_MODE: 'production' }, key: 'identity.devIssuer' },
    { name: 'credentials in the platform URL', env: { FLAGGATE_PLATFORM: 'unleash', FLAGGATE_TARGET_URL: 'http://admin:secret@127.0.0.1:4242' }, key: 'platform.targetUrl' },
    { name: 'an http JWKS URL in production', env: { FLAGGATE_MODE: 'production', FLAGGATE_OIDC_JWKS_URL: 'http://idp.example/jwks' }, key: 'identity.jwksUrl' },
    // URL parsing lowercases the scheme later: HTTP:// is plain HTTP all the same.
    { name: 'an HTTP:// JWKS URL in production', env: { FLAGGATE_MODE: 'production', FLAGGATE_OIDC_JWKS_URL: 'HTTP://idp.example/jwks' }, key: 'identity.jwksUrl' },
    // The development issuer signs any name and role, the development sign-in asks no password.
    { name: 'the dev issuer on a network address', env: { FLAGGATE_HOST: '0.0.0.0' }, key: 'identity.devIssuer' },
    { name: 'the dev issuer on a public address', env: { FLAGGATE_HOST: '192.0.2.10' }, key: 'identity.devIssuer' },
    { name: 'a short metrics token', env: { FLAGGATE_METRICS_TOKEN: 'short' }, key: 'metrics.bearerToken' },
    { name: 'a peer chain id that is no chain id', env: { FLAGGATE_APPROVALS_PEER_CHAINS: 'replica-a, bad id' }, key: 'approvals.peerChains' },
    { name: 'an approval token lifetime of zero', env: { FLAGGATE_APPROVAL_TOKEN_MAX_LIFETIME_SECONDS: '0' }, key: 'approvals.tokenMaxLifetimeSeconds' },
  ])('rejects $name naming the key', ({ env, key }) => {
    expect(() => loadConfig({ env })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) }));
  });

  it('reads the metrics, peer-chain and approval-token settings, lists comma-separated', () => {
    const c = loadConfig({
      env: {
        FLAGGATE_METRICS_TOKEN: 'scrape-0123456789abcdef',
        FLAGGATE_METRICS_ENVIRONMENTS: 'prod, eu-prod',
        FLAGGATE_APPROVALS_PEER_CHAINS: 'replica-b,replica-c',
        FLAGGATE_APPROVAL_TOKEN_MAX_LIFETIME_SECONDS: '300',
      },
    });
    expect(c.metrics).toEqual({ bearerToken: 'scrape-0123456789abcdef', environments: ['prod', 'eu-prod'] });
    expect(c.approvals).toMatchObject({ peerChains: ['replica-b', 'replica-c'], tokenMaxLifetimeSeconds: 300 });
    expect(loadConfig({ env: {} })).toMatchObject({ metrics: { environments: ['production', 'staging', 'development'] }, approvals: { peerChains: [], tokenMaxLifetimeSeconds: 900 } });
  });

  it('reads the drift interval from FLAGGATE_DRIFT_INTERVAL_SECONDS, 60 s by default, and names the key of a bad one', () => {
    expect(loadConfig({ env: {} }).drift).toEqual({ intervalSeconds: 60, clockSkewSeconds: 1 });
    expect(loadConfig({ env: { FLAGGATE_DRIFT_INTERVAL_SECONDS: '15' } }).drift.intervalSeconds).toBe(15);
    expect(() => loadConfig({ env: { FLAGGATE_DRIFT_INTERVAL_SECONDS: '-1' } })).toThrow(/drift\.intervalSeconds/);
  });

  it('takes the dev issuer on any loopback host', () => {
    for (const host of ['127.0.0.1', '127.0.0.2', 'localhost', '::1', '[::1]']) expect(loadConfig({ env: { FLAGGATE_HOST: host } }).identity.devIssuer, host).toBe(true);
  });

  it('rejects unknown keys in the file', () => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    writeFileSync(`${tmp.dir}/c.json`, '{"proxyport": 1}');
    expect(() => loadConfig({ env: { FLAGGATE_CONFIG: `${tmp.dir}/c.json` } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});

describe('loadConfig secrets from files', () => {
  const withFiles = (files: Record<string, string | undefined>) => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    for (const [name, text] of Object.entries(files)) if (text !== undefined) writeFileSync(`${tmp.dir}/${name}`, text);
    return tmp.dir;
  };

  it('reads the platform credential, the PostgreSQL URL and the metrics token from *_FILE', () => {
    const dir = withFiles({ token: '*:*.admin-token\n', url: 'postgres://fg@db.internal/audit\n', metrics: 'scrape-0123456789abcdef' });
    const c = loadConfig({
      env: {
        FLAGGATE_PLATFORM: 'unleash', FLAGGATE_TARGET_URL: 'http://127.0.0.1:4242',
        FLAGGATE_TARGET_TOKEN_FILE: 'token', FLAGGATE_UPSTREAM_POSTGRES_URL_FILE: `${dir}/url`, FLAGGATE_METRICS_TOKEN_FILE: 'metrics',
      },
      cwd: dir,
    });
    expect(c.platform).toMatchObject({ targetToken: '*:*.admin-token' });
    expect(c.replicate.sinks).toContainEqual(expect.objectContaining({ type: 'postgres', url: 'postgres://fg@db.internal/audit', required: true }));
    expect(c.metrics.bearerToken).toBe('scrape-0123456789abcdef');
  });

  it.each([
    { name: 'both the variable and its file', files: { token: 't' }, env: { FLAGGATE_TARGET_TOKEN: 't', FLAGGATE_TARGET_TOKEN_FILE: 'token' }, says: 'not both' },
    { name: 'a missing file', files: {}, env: { FLAGGATE_UPSTREAM_POSTGRES_URL_FILE: 'nope' }, says: 'FLAGGATE_UPSTREAM_POSTGRES_URL_FILE' },
    { name: 'an empty file', files: { token: '\n' }, env: { FLAGGATE_TARGET_TOKEN_FILE: 'token' }, says: 'one non-empty line' },
    { name: 'a file of two lines', files: { token: 'a\nb\n' }, env: { FLAGGATE_TARGET_TOKEN_FILE: 'token' }, says: 'one non-empty line' },
  ])('rejects $name', ({ files, env, says }) => {
    const dir = withFiles(files);
    expect(() => loadConfig({ env, cwd: dir })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(says) }));
  });
});

describe('loadConfig credentials from files named in the config file', () => {
  const withFiles = (files: Record<string, string>) => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    for (const [name, text] of Object.entries(files)) writeFileSync(`${tmp.dir}/${name}`, text);
    return tmp.dir;
  };
  const configWith = (dir: string, config: object) => {
    writeFileSync(`${dir}/flaggate.json`, JSON.stringify(config));
    return loadConfig({ env: { FLAGGATE_CONFIG: 'flaggate.json' }, cwd: dir });
  };

  it('reads <key>File for a credential at any depth, in a list too, and leaves no *File key behind', () => {
    const dir = withFiles({ 'client-secret': 's3cret\n', 'os-password': 'pw', hec: 'hec-token\n' });
    const c = configWith(dir, {
      console: { oidc: { issuer: 'https://login.example.com/', clientId: 'flaggate', clientSecretFile: 'client-secret' } },
      replicate: { sinks: [{ type: 'jsonl' }, { type: 'opensearch', url: 'https://search.example.com', username: 'fg', passwordFile: `${dir}/os-password` }, { type: 'http', format: 'splunk_hec', url: 'https://hec.example.com', tokenFile: 'hec' }] },
    });
    expect(c.console.oidc).toMatchObject({ clientSecret: 's3cret' });
    expect(c.replicate.sinks[1]).toMatchObject({ type: 'opensearch', password: 'pw' });
    expect(c.replicate.sinks[2]).toMatchObject({ type: 'http', token: 'hec-token' });
    expect(JSON.stringify(c)).not.toMatch(/File"/);
  });

  it.each([
    { name: 'both the key and its file', config: (d: string) => ({ metrics: { bearerToken: 'scrape-0123456789abcdef', bearerTokenFile: `${d}/t` } }), says: 'metrics.bearerTokenFile: give metrics.bearerToken or bearerTokenFile, not both' },
    { name: 'a missing file', config: () => ({ metrics: { bearerTokenFile: 'nope' } }), says: 'metrics.bearerTokenFile: nope cannot be read' },
    { name: 'a file of two lines', config: () => ({ metrics: { bearerTokenFile: 'two' } }), says: 'must hold one non-empty line' },
    { name: 'a path that is not a string', config: () => ({ metrics: { bearerTokenFile: 42 } }), says: 'metrics.bearerTokenFile: must be a file path' },
  ])('rejects $name, naming the key', ({ config, says }) => {
    const dir = withFiles({ t: 'scrape-0123456789abcdef', two: 'a\nb\n' });
    expect(() => configWith(dir, config(dir))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(says) }));
  });

  it('takes no other *File key as a credential: jwksFile stays a path', () => {
    const dir = withFiles({ 'jwks.json': '{"keys":[]}' });
    const c = configWith(dir, { identity: { devIssuer: false, issuer: 'https://login.example.com/', audience: 'flaggate', jwksFile: 'jwks.json' } });
    expect(c.identity.jwksFile).toBe(`${dir}/jwks.json`);
  });
});

describe('loadConfig reads values as written', () => {
  const invalid = (env: Record<string, string>, overrides: Record<string, unknown>, says: string | RegExp) =>
    expect(() => loadConfig({ env, overrides })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringMatching(says) }));

  it.each([' ', '\t', '0x1F90', '1e3', '0b1', 'Infinity', '8080 ', '+8080'])('refuses the number %j, which Number() would read as another', (text) => {
    invalid({ FLAGGATE_PROXY_PORT: text }, {}, /proxyPort/);
    invalid({ FLAGGATE_BODY_LIMIT: text }, {}, /limits\.bodyBytes/);
  });

  it('takes numbers in plain decimal digits, from a variable or the file', () => {
    expect(loadConfig({ env: { FLAGGATE_PROXY_PORT: '7100', FLAGGATE_DRIFT_INTERVAL_SECONDS: '0' } })).toMatchObject({ proxyPort: 7100, drift: { intervalSeconds: 0 } });
    expect(loadConfig({ env: {}, overrides: { proxyPort: 7200 } }).proxyPort).toBe(7200);
  });

  it('refuses one port for both the proxy and the control API, and a held change that would never expire', () => {
    invalid({ FLAGGATE_PROXY_PORT: '8080', FLAGGATE_CONTROL_PORT: '8080' }, {}, /controlPort: port 8080 is also the proxy port/);
    invalid({ FLAGGATE_APPROVAL_EXPIRY_SECONDS: '1000000000000' }, {}, /approvals\.expirySeconds/);
  });

  it('refuses a groups claim that is the roles claim, or inside it, or around it', () => {
    for (const [rolesClaim, groupsClaim] of [['groups', 'groups'], ['realm', 'realm.groups'], ['realm.groups.names', 'realm.groups']]) {
      invalid({}, { 'identity.rolesClaim': rolesClaim, 'identity.groupsClaim': groupsClaim }, /identity\.groupsClaim: the groups claim .* must be different claims/);
    }
    expect(loadConfig({ env: {}, overrides: { 'identity.rolesClaim': 'realm.roles', 'identity.groupsClaim': 'realm.groups' } }).identity.groupsClaim).toBe('realm.groups');
  });

  it('refuses, in production, an approval system key set over plain HTTP and a TSA credential sent in the clear', () => {
    const production = { mode: 'production', 'identity.devIssuer': false, 'identity.issuer': 'https://login.example.com/', 'identity.jwksUrl': 'https://login.example.com/jwks.json' };
    invalid({}, { ...production, 'approvals.issuers': [{ issuer: 'change-system', jwksUrl: 'HTTP://changes.example.com/jwks' }] }, /approvals\.issuers\.0\.jwksUrl: must be https in production mode/);
    invalid({}, { ...production, 'timestamp.tsaUrls': [{ url: 'http://tsa.example.com', bearer: 'tsa-credential' }], 'timestamp.trustAnchors': ['/etc/tsa.pem'] }, /timestamp\.tsaUrls\.0\.url: must be https/);
    expect(loadConfig({ env: {}, overrides: { ...production, 'timestamp.tsaUrls': [{ url: 'http://tsa.example.com' }], 'timestamp.trustAnchors': ['/etc/tsa.pem'] } }).timestamp.tsaUrls).toHaveLength(1);
    expect(loadConfig({ env: {}, overrides: { 'approvals.issuers': [{ issuer: 'change-system', jwksUrl: 'http://127.0.0.1:5000/jwks' }] } }).approvals.issuers).toHaveLength(1);
  });
});
