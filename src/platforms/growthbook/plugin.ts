import type { PlatformPlugin } from '../platform.js';

/**
 * GrowthBook's REST API. `targetUrl` is the API host (e.g. https://api.growthbook.io; the API is
 * under its `/api/`), `targetToken` a secret key with the admin role, sent as a Bearer token.
 */
export const growthBookPlugin: PlatformPlugin = {
  name: 'growthbook',
  check(settings) {
    const issues: Array<{ path: string; message: string }> = [];
    if (!settings.targetUrl) issues.push({ path: 'targetUrl', message: 'required for platform growthbook' });
    else if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(settings.targetUrl)) issues.push({ path: 'targetUrl', message: 'must not carry credentials; use platform.targetToken' });
    else if (/\/api\/?$/.test(settings.targetUrl)) issues.push({ path: 'targetUrl', message: 'the API host without /api (flaggate forwards the /api/v1/… paths as clients send them)' });
    if (!settings.targetToken || !/^[A-Za-z0-9_-]+$/.test(settings.targetToken)) issues.push({ path: 'targetToken', message: 'required for platform growthbook: a secret key (secret_…)' });
    return issues;
  },
  resolve: (settings) => settings,
  async create(settings) {
    const { createGrowthBookAdapter } = await import('./index.js');
    const { createHttpForwarder } = await import('../../forward/index.js');
    const token = settings.targetToken ?? '';
    const adapter = createGrowthBookAdapter({ baseUrl: settings.targetUrl!, token, timeoutMs: settings.timeoutMs });
    return { ...adapter, forward: createHttpForwarder({ baseUrl: settings.targetUrl!, token, credentialPrefix: 'Bearer ', timeoutMs: settings.timeoutMs }) };
  },
};
