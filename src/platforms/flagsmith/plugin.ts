import type { PlatformPlugin } from '../platform.js';

/** `Api-Key <organisation master key>` or `Token <user token>`: the two admin credentials Flagsmith takes. */
const CREDENTIAL = /^(Api-Key|Token) [A-Za-z0-9._-]+$/;

/**
 * Flagsmith's admin API. `targetUrl` is Flagsmith's base URL; `targetToken` the whole Authorization
 * value, scheme included, since Flagsmith takes two. The adapter loads only when Flagsmith is the platform.
 */
export const flagsmithPlugin: PlatformPlugin = {
  name: 'flagsmith',
  check(settings) {
    const issues: Array<{ path: string; message: string }> = [];
    if (!settings.targetUrl) issues.push({ path: 'targetUrl', message: 'required for platform flagsmith' });
    else if (/^[a-z][a-z0-9+.-]*:\/\/[^/]*@/i.test(settings.targetUrl)) issues.push({ path: 'targetUrl', message: 'must not carry credentials; use platform.targetToken' });
    if (!settings.targetToken || !CREDENTIAL.test(settings.targetToken)) {
      issues.push({ path: 'targetToken', message: 'required for platform flagsmith: "Api-Key <organisation key>" or "Token <user token>"' });
    }
    return issues;
  },
  resolve: (settings) => settings,
  async create(settings) {
    const { createFlagsmithAdapter } = await import('./index.js');
    const { createHttpForwarder } = await import('../../forward/index.js');
    const authorization = settings.targetToken ?? '';
    const adapter = createFlagsmithAdapter({ baseUrl: settings.targetUrl!, authorization, timeoutMs: settings.timeoutMs, ...(settings.flagsmith ? { limits: settings.flagsmith } : {}) });
    const { savedInParts } = await import('./saved-in-parts.js');
    const http = createHttpForwarder({ baseUrl: settings.targetUrl!, token: authorization, timeoutMs: settings.timeoutMs });
    return {
      ...adapter,
      async forward(request, change) {
        const response = await http(request, change);
        return response.status >= 400 && savedInParts(request) ? { ...response, mayHaveActed: true } : response;
      },
    };
  },
};
