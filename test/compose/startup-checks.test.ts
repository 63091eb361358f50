import { describe, expect, it } from 'vitest';
import { checkStartup, weakSettings } from '../../src/compose/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';

const external = { 'identity.devIssuer': false, 'identity.issuer': 'https://login.example.com/', 'identity.audience': 'flaggate', 'identity.jwksUrl': 'https://login.example.com/jwks.json' };
const settings = (overrides: Record<string, unknown>) => weakSettings(loadConfig({ env: {}, overrides: { dataDir: '/tmp/flaggate-weak', ...overrides } })).map((w) => w.setting);

describe('weak settings at start-up', () => {
  it('finds none in the embedded defaults: loopback, development', () => {
    expect(settings({})).toEqual([]);
  });

  it('warns of /metrics without a token on an address other machines reach, and not once a token is set', () => {
    expect(settings({ ...external, host: '0.0.0.0' })).toEqual(['metrics.bearerToken']);
    expect(settings({ ...external, host: '0.0.0.0', 'metrics.bearerToken': 'scrape-0123456789abcdef' })).toEqual([]);
  });

  it('warns of the embedded TSA in production, and not with external TSAs', () => {
    expect(settings({ ...external, mode: 'production' })).toEqual(['timestamp.tsaUrls']);
    expect(settings({ ...external, mode: 'production', 'timestamp.tsaUrls': [{ url: 'https://tsa.example.com' }], 'timestamp.trustAnchors': ['/etc/flaggate/tsa-ca.pem'] })).toEqual([]);
  });

  it('logs each as a warning naming its setting', async () => {
    const lines: string[] = [];
    const config = loadConfig({ env: {}, overrides: { dataDir: '/tmp/flaggate-weak', ...external, host: '0.0.0.0', mode: 'production' } });
    await checkStartup(config, createLogger({ write: (line) => lines.push(line) }));
    const warned = lines.map((l) => JSON.parse(l) as { level: string; setting: string; msg?: string });
    expect(warned.map((w) => [w.level, w.setting])).toEqual([['warn', 'metrics.bearerToken'], ['warn', 'timestamp.tsaUrls']]);
  });
});
