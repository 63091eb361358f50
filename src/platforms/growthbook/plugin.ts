import { isDeepStrictEqual } from 'node:util';
import type { FlagChange, PlatformAdapter, PlatformPlugin } from '../platform.js';

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
    const http = createHttpForwarder({ baseUrl: settings.targetUrl!, token, credentialPrefix: 'Bearer ', timeoutMs: settings.timeoutMs });
    return {
      ...adapter,
      async forward(request, change) {
        const response = await http(request, change);
        if (!mayHaveWritten(response.status) || change === undefined) return response;
        // GrowthBook's handler has finished when it answers 400; a 5xx may come from a proxy in
        // front of it while the handler still runs, and a read now could come before its write.
        const failed = response.status === 400 && (await unchangedSince(adapter, change));
        return failed ? response : { ...response, mayHaveActed: true };
      },
    };
  },
};

/**
 * GrowthBook answers any error its handler throws with 400 (or the error's own status), and its
 * writes have steps after the one that publishes: an update publishes its revision and then
 * writes the feature, adds tags and records the audit; a toggle's write may have landed before an
 * error; a delete deletes and then cleans up. So a 400 or a 5xx to a write does not say nothing was
 * written (a 5xx is unknown; a 400, unless the feature reads as before). Refusals made before the
 * handler runs (401, 403, 404 of a route, 413, 415, 429) say nothing was written.
 */
function mayHaveWritten(status: number): boolean {
  return status === 400 || status >= 500;
}

/**
 * Whether the feature reads now as it did before the change: then the error wrote nothing of it (a
 * publish moves the live revision's version) and the outcome is a failure; otherwise, or when it
 * cannot be read, unknown.
 */
async function unchangedSince(adapter: Pick<PlatformAdapter, 'readState'>, change: FlagChange): Promise<boolean> {
  if (change.previousState === undefined) return false;
  try {
    return isDeepStrictEqual(await adapter.readState(change), change.previousState);
  } catch {
    return false;
  }
}
