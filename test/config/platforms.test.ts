import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

const load = (platforms: unknown, env: Record<string, string> = {}) => loadConfig({ env, cwd: '/srv/app', overrides: { platforms } });
const issuesOf = (f: () => unknown): string[] => {
  try {
    f();
  } catch (err) {
    return (err as { details: { issues: string[] } }).details.issues;
  }
  throw new Error('the configuration was accepted');
};

describe('platforms', () => {
  it('reads the single platform as the list of one, named by its plug-in, on the proxy port', () => {
    const c = loadConfig({ env: { FLAGGATE_PLATFORM: 'unleash', FLAGGATE_TARGET_URL: 'http://127.0.0.1:4242', FLAGGATE_TARGET_TOKEN: 't' }, cwd: '/srv/app' });
    expect(c.platforms).toEqual([expect.objectContaining({ id: 'unleash', name: 'unleash', targetUrl: 'http://127.0.0.1:4242', targetToken: 't' })]);
    expect(c.platforms[0]).not.toHaveProperty('pathPrefix');
    expect(c.platform).toBe(c.platforms[0]);
  });

  it('reads a list from the file: ids, prefixes, ports, each plug-in resolving its own paths', () => {
    const tmp = makeTempDir();
    cleanups.push(tmp.cleanup);
    writeFileSync(
      `${tmp.dir}/c.yaml`,
      [
        'platforms:',
        '  - name: flagd',
        '    pathPrefix: /flagd',
        '  - id: payments',
        '    name: flagd',
        '    targetUrl: payments.json',
        '    environment: staging',
        '    pathPrefix: /payments',
        '  - name: unleash',
        '    targetUrl: http://unleash:4242',
        '    targetToken: secret',
        '    proxyPort: 8081',
      ].join('\n'),
    );
    const c = loadConfig({ env: { FLAGGATE_CONFIG: `${tmp.dir}/c.yaml` }, cwd: tmp.dir });
    expect(c.platforms).toEqual([
      expect.objectContaining({ id: 'flagd', name: 'flagd', targetUrl: `${tmp.dir}/data/flags.flagd.json`, pathPrefix: '/flagd' }),
      expect.objectContaining({ id: 'payments', name: 'flagd', targetUrl: `${tmp.dir}/data/payments.json`, environment: 'staging', pathPrefix: '/payments' }),
      expect.objectContaining({ id: 'unleash', name: 'unleash', targetUrl: 'http://unleash:4242', proxyPort: 8081 }),
    ]);
    expect(Object.isFrozen(c.platforms[1])).toBe(true);
  });

  it.each([
    { name: 'two platforms with one id', platforms: [{ name: 'flagd', pathPrefix: '/a' }, { name: 'flagd', targetUrl: 'b.json', pathPrefix: '/b' }], issue: 'platforms.1.id: duplicate platform id "flagd"' },
    { name: 'a platform of a list with no way in', platforms: [{ name: 'flagd', pathPrefix: '/a' }, { id: 'b', name: 'flagd', targetUrl: 'b.json' }], issue: 'platforms.1.pathPrefix: with several platforms, each needs a pathPrefix or a proxyPort' },
    { name: 'both a prefix and a port', platforms: [{ name: 'flagd', pathPrefix: '/a', proxyPort: 8081 }], issue: 'platforms.0.pathPrefix: give pathPrefix or proxyPort, not both' },
    { name: 'one prefix inside another', platforms: [{ name: 'flagd', pathPrefix: '/flags' }, { id: 'b', name: 'flagd', targetUrl: 'b.json', pathPrefix: '/flags/b' }], issue: 'platforms.1.pathPrefix: /flags/b overlaps /flags (platforms.0)' },
    { name: 'prefixes differing only in case', platforms: [{ name: 'flagd', pathPrefix: '/Flags' }, { id: 'b', name: 'flagd', targetUrl: 'b.json', pathPrefix: '/flags' }], issue: 'platforms.1.pathPrefix: /flags overlaps /Flags' },
    { name: 'a dot segment in a prefix', platforms: [{ name: 'flagd', pathPrefix: '/a/../b' }], issue: 'platforms.0.pathPrefix: a path such as /flagd' },
    { name: 'an encoded character in a prefix', platforms: [{ name: 'flagd', pathPrefix: '/a%2Fb' }], issue: 'platforms.0.pathPrefix: a path such as /flagd' },
    { name: 'a trailing slash', platforms: [{ name: 'flagd', pathPrefix: '/a/' }], issue: 'platforms.0.pathPrefix: a path such as /flagd' },
    { name: 'a platform port that is the control port', platforms: [{ name: 'flagd', proxyPort: 9090 }], issue: 'platforms.0.proxyPort: port 9090 is already taken' },
    { name: 'the reserved id', platforms: [{ id: 'unrouted', name: 'flagd', pathPrefix: '/a' }], issue: 'platforms.0.id: unrouted is reserved' },
    { name: 'an unknown key (a misspelt prefix)', platforms: [{ name: 'flagd', pathprefix: '/a' }], issue: 'platforms.0: Unrecognized key: "pathprefix"' },
    { name: 'a plug-in check, at its item', platforms: [{ name: 'unleash', pathPrefix: '/u' }], issue: 'platforms.0.targetUrl' },
    { name: 'an empty list', platforms: [], issue: 'platforms:' },
  ])('refuses $name, naming the key', ({ platforms, issue }) => {
    expect(issuesOf(() => load(platforms)).join('\n')).toContain(issue);
  });

  it('refuses platform and platforms together, naming the variables of the single form', () => {
    expect(() => load([{ name: 'flagd', pathPrefix: '/a' }], { FLAGGATE_TARGET_URL: 'x.json' })).toThrow(/give platform or platforms, not both \(FLAGGATE_PLATFORM, FLAGGATE_TARGET_URL/);
    expect(() => loadConfig({ env: {}, overrides: { 'platform.name': 'flagd', platforms: [{ name: 'flagd' }] } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }));
  });
});
