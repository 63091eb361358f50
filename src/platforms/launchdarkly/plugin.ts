import type { PlatformPlugin } from '../platform.js';

/**
 * LaunchDarkly's REST API v2. `targetUrl` is the API's base URL (e.g. https://app.launchdarkly.com),
 * `targetToken` an access token (`api-…`), sent bare in Authorization as LaunchDarkly expects.
 */
export const launchDarklyPlugin: PlatformPlugin = {
  name: 'launchdarkly',
  check(settings) {
    const issues: Array<{ path: string; message: string }> = [];
    if (!settings.targetUrl) issues.push({ path: 'targetUrl', message: 'required for platform launchdarkly' });
    else if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(settings.targetUrl)) issues.push({ path: 'targetUrl', message: 'must not carry credentials; use platform.targetToken' });
    if (!settings.targetToken || !/^api-[A-Za-z0-9-]+$/.test(settings.targetToken)) issues.push({ path: 'targetToken', message: 'required for platform launchdarkly: an access token, api-…' });
    return issues;
  },
  resolve: (settings) => settings,
  async create(settings) {
    const { createLaunchDarklyAdapter } = await import('./index.js');
    const { createHttpForwarder } = await import('../../forward/index.js');
    const adapter = createLaunchDarklyAdapter({ baseUrl: settings.targetUrl!, token: settings.targetToken ?? '', timeoutMs: settings.timeoutMs });
    return { ...adapter, forward: createHttpForwarder({ baseUrl: settings.targetUrl!, token: settings.targetToken, timeoutMs: settings.timeoutMs }) };
  },
};
