import type { PlatformPlugin } from '../platform.js';

/**
 * Unleash's admin API. `targetUrl` is Unleash's base URL, `targetToken` an admin API token, sent
 * bare in Authorization as Unleash expects. The adapter loads only when Unleash is the platform.
 */
export const unleashPlugin: PlatformPlugin = {
  name: 'unleash',
  check(settings) {
    if (!settings.targetUrl) return [{ path: 'targetUrl', message: 'required for platform unleash' }];
    if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(settings.targetUrl)) return [{ path: 'targetUrl', message: 'must not carry credentials; use platform.targetToken' }];
    return [];
  },
  resolve: (settings) => settings,
  async create(settings) {
    const { createUnleashAdapter } = await import('./index.js');
    const { createHttpForwarder } = await import('../../forward/index.js');
    const adapter = createUnleashAdapter({ baseUrl: settings.targetUrl!, token: settings.targetToken ?? '', timeoutMs: settings.timeoutMs });
    return { ...adapter, forward: createHttpForwarder({ baseUrl: settings.targetUrl!, token: settings.targetToken, timeoutMs: settings.timeoutMs }) };
  },
};
