import type { PlatformPlugin } from '../platform.js';
import { compileMapping, mappingIssues } from './mapping.js';

/**
 * Any REST flag service, described in the configuration file: `targetUrl` is its base URL,
 * `targetToken` its credential, and `rest` the mapping of its routes (checked at start-up).
 */
export const restPlugin: PlatformPlugin = {
  name: 'rest',
  check(settings) {
    const issues: Array<{ path: string; message: string }> = [];
    if (!settings.targetUrl) issues.push({ path: 'targetUrl', message: 'required for platform rest' });
    else if (!/^https?:\/\/[^/@?#]+(\/[^?#]*)?$/i.test(settings.targetUrl)) issues.push({ path: 'targetUrl', message: 'must be an http(s) URL without credentials, query or fragment' });
    if (!settings.targetToken) issues.push({ path: 'targetToken', message: 'required for platform rest: the service credential' });
    else if (/[\r\n]/.test(settings.targetToken)) issues.push({ path: 'targetToken', message: 'must be one line' });
    return [...issues, ...mappingIssues(settings.rest)];
  },
  resolve: (settings) => settings,
  async create(settings) {
    const { createRestAdapter } = await import('./index.js');
    const { createHttpForwarder } = await import('../../forward/index.js');
    const mapping = compileMapping(settings.rest, settings.environment);
    const credential = mapping.credentialFormat.replace('{token}', () => settings.targetToken ?? '');
    const adapter = createRestAdapter({ baseUrl: settings.targetUrl!, mapping, credential, timeoutMs: settings.timeoutMs });
    return { ...adapter, forward: createHttpForwarder({ baseUrl: settings.targetUrl!, token: credential, credentialHeader: mapping.credentialHeader, timeoutMs: settings.timeoutMs }) };
  },
};
