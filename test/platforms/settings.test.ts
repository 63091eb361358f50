import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

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
});
