import type { PlatformResponse } from '../adapters/adapter.js';
import { FlaggateError } from '../errors.js';
import type { RawRequest } from '../intercept/raw-request.js';
import type { Forward } from './forward.js';

// Hop-by-hop headers (RFC 9110 §7.6.1), the client's credentials, and flaggate's own headers
// never reach the platform.
const dropRequestHeaders = new Set([
  'authorization', 'cookie', 'proxy-authorization', 'host', 'connection', 'keep-alive', 'te', 'trailer',
  'transfer-encoding', 'upgrade', 'content-length', 'expect', 'accept-encoding',
]);
const dropResponseHeaders = new Set([
  'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'set-cookie', 'trailer', 'upgrade',
]);

/**
 * Sends the request to an HTTP platform with the sidecar's credential in place of the client's,
 * the body byte for byte. Throws FORWARD_PLATFORM_UNREACHABLE when no reply arrives.
 */
export function createHttpForwarder(options: {
  baseUrl: string;
  token?: string;
  /** Header that carries the platform credential; Unleash uses a bare token in Authorization. */
  credentialHeader?: string;
  credentialPrefix?: string;
  timeoutMs: number;
}): Forward {
  const base = options.baseUrl.replace(/\/+$/, '');
  const credentialHeader = options.credentialHeader ?? 'authorization';

  return async (req: RawRequest): Promise<PlatformResponse> => {
    const headers = new Headers();
    for (const [name, value] of Object.entries(req.headers)) {
      if (dropRequestHeaders.has(name) || name.startsWith('x-flaggate-')) continue;
      headers.set(name, value);
    }
    headers.set('accept-encoding', 'identity');
    if (options.token) headers.set(credentialHeader, `${options.credentialPrefix ?? ''}${options.token}`);

    let res: Response;
    try {
      res = await fetch(base + req.path, {
        method: req.method,
        headers,
        body: req.body.length > 0 && req.method !== 'GET' && req.method !== 'HEAD' ? req.body : undefined,
        redirect: 'manual',
        signal: AbortSignal.timeout(options.timeoutMs),
      });
    } catch (cause) {
      // A timeout may come after the platform acted: the outcome is then unknown, not failed.
      const timedOut = (cause as Error).name === 'TimeoutError';
      throw new FlaggateError('FORWARD_PLATFORM_UNREACHABLE', timedOut ? 'the platform did not answer in time' : 'the platform could not be reached', {
        cause,
        details: { timedOut },
      });
    }
    const body = Buffer.from(await res.arrayBuffer());
    const out: Record<string, string> = {};
    res.headers.forEach((value, name) => {
      if (!dropResponseHeaders.has(name)) out[name] = value;
    });
    return { status: res.status, headers: out, body };
  };
}
