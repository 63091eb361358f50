import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { loadConfig } from '../../src/config/index.js';
import { platformPlugin } from '../../src/platforms/index.js';

/** The Flagsmith and LaunchDarkly settings are checked at start-up, with errors that name the key. */
describe('platform settings', () => {
  const url = 'http://127.0.0.1:8000';
  it.each([
    { name: 'flagsmith without a credential', env: { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_URL: url }, key: 'platform.targetToken' },
    // A bare key would be sent without its scheme, and Flagsmith would answer 401 to every read.
    { name: 'flagsmith with a bare key', env: { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'abc' }, key: 'platform.targetToken' },
    { name: 'flagsmith with a Bearer token', env: { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'Bearer abc' }, key: 'platform.targetToken' },
    { name: 'flagsmith without a URL', env: { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_TOKEN: 'Api-Key abc' }, key: 'platform.targetUrl' },
    { name: 'launchdarkly with a token that is not an access token', env: { FLAGGATE_PLATFORM: 'launchdarkly', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'sdk-123' }, key: 'platform.targetToken' },
  ])('refuses $name', ({ env, key }) => {
    expect(() => loadConfig({ env })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) }));
  });

  it('takes either Flagsmith admin credential, and a LaunchDarkly access token', () => {
    for (const token of ['Api-Key ser.abc123', 'Token 0123abcd']) {
      expect(loadConfig({ env: { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: token } }).platform.targetToken).toBe(token);
    }
    expect(loadConfig({ env: { FLAGGATE_PLATFORM: 'launchdarkly', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'api-0123-abcd' } }).platform.name).toBe('launchdarkly');
  });

  // A deployment with a lower FEATURE_VALUE_LIMIT drops a shorter value of a new identity override, and answers 201.
  it('holds Flagsmith identity overrides to the deployment\'s FEATURE_VALUE_LIMIT', async () => {
    const env = { FLAGGATE_PLATFORM: 'flagsmith', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'Api-Key ser.abc' };
    expect(loadConfig({ env }).platform.flagsmith).toBeUndefined();
    const config = loadConfig({ env, overrides: { 'platform.flagsmith.featureValueLimit': '100' } });
    expect(config.platform.flagsmith).toEqual({ featureValueLimit: 100 });
    const override = (length: number) => {
      const body = Buffer.from(JSON.stringify({ feature: 2, enabled: true, feature_state_value: 'a'.repeat(length) }));
      return { method: 'POST', path: '/api/v1/environments/k/identities/3/featurestates/', headers: { 'content-type': 'application/json' }, body, bodySha256: createHash('sha256').update(body).digest('hex') };
    };
    const limited = await platformPlugin('flagsmith').create(config.platform);
    expect(limited.classify(override(100))).toMatchObject({ kind: 'write' });
    expect(() => limited.classify(override(101))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED', message: expect.stringContaining('at most 100') }));
    const byDefault = await platformPlugin('flagsmith').create(loadConfig({ env }).platform);
    expect(byDefault.classify(override(101))).toMatchObject({ kind: 'write' });
    expect(() => byDefault.classify(override(20_001))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    // Only Flagsmith takes them, and only what they name.
    expect(() => loadConfig({ env: { FLAGGATE_PLATFORM: 'launchdarkly', FLAGGATE_TARGET_URL: url, FLAGGATE_TARGET_TOKEN: 'api-0123-abcd' }, overrides: { 'platform.flagsmith.featureValueLimit': '100' } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('platform.flagsmith') }),
    );
    for (const bad of [{ 'platform.flagsmith.featureValueLimit': '0' }, { 'platform.flagsmith.featureValueLimt': '100' }]) {
      expect(() => loadConfig({ env, overrides: bad })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('platform.flagsmith') }));
    }
  });
});
