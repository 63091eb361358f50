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
    const http = createHttpForwarder({ baseUrl: settings.targetUrl!, token: settings.targetToken, timeoutMs: settings.timeoutMs });
    return {
      ...adapter,
      async forward(request, change) {
        const response = await http(request, change);
        return change?.action === 'tag.update' && writtenInParts(response.status) ? { ...response, mayHaveActed: true } : response;
      },
    };
  },
};

/**
 * Unleash's tag update adds each tag on its own, in parallel and outside a transaction, then
 * removes: an error after its handler started (a 400 from a tag's own check, a 5xx) may follow tags
 * already added, so its outcome is unknown, not failed. Refusals before the handler (401, 403, 404,
 * 413, 415, 429) wrote nothing.
 */
function writtenInParts(status: number): boolean {
  return status === 400 || status >= 500;
}
