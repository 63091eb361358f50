import { FlaggateError } from '../errors.js';
import { bundleLimits } from './bundle.js';

/** Where the bundle is served (OPA's bundle service: one URL, optional bearer credentials) and how often it is asked. */
export interface BundleServiceOptions {
  url: string;
  credentials?: { bearer: { token: string; scheme: string } } | undefined;
  minDelaySeconds: number;
  maxDelaySeconds: number;
  timeoutSeconds: number;
}

/** A bundle as the service served it: the bytes and the ETag to send back as If-None-Match. */
export interface ServedBundle {
  bytes: Buffer;
  etag: string | null;
  url: string;
}

function unavailable(url: string, message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('POLICY_BUNDLE_UNAVAILABLE', `policy bundle service ${url}: ${message}`, cause === undefined ? {} : { cause });
}

/** The URL as it may be logged and recorded: without user info. */
export function displayUrl(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString();
}

/**
 * One request of OPA's bundle protocol: GET with If-None-Match when a bundle is held; 304 means the
 * held bundle is still current. Any other answer than 200 or 304, a body over the tarball limit or
 * no answer within the timeout throws POLICY_BUNDLE_UNAVAILABLE; what is served is not trusted here
 * (the caller verifies it before it loads).
 */
export async function fetchBundle(o: BundleServiceOptions, etag: string | undefined): Promise<ServedBundle | 'not-modified'> {
  const url = displayUrl(o.url);
  const headers: Record<string, string> = { accept: 'application/gzip, application/octet-stream' };
  if (etag) headers['if-none-match'] = etag;
  if (o.credentials) headers.authorization = `${o.credentials.bearer.scheme} ${o.credentials.bearer.token}`;
  let res: Response;
  try {
    res = await fetch(o.url, { headers, redirect: 'error', signal: AbortSignal.timeout(o.timeoutSeconds * 1000) });
  } catch (err) {
    throw unavailable(url, 'no answer', err);
  }
  if (res.status === 304 && etag) {
    await res.body?.cancel();
    return 'not-modified';
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw unavailable(url, `answered ${res.status}`);
  }
  const bytes = await readCapped(res, url);
  return { bytes, etag: res.headers.get('etag'), url };
}

/** The body, refused past the tarball limit without buffering more than it. */
async function readCapped(res: Response, url: string): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? 0);
  if (declared > bundleLimits.tarball) {
    await res.body?.cancel();
    throw new FlaggateError('POLICY_BUNDLE_INVALID', `policy bundle invalid: ${url} serves more than ${bundleLimits.tarball} bytes`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > bundleLimits.tarball) throw new FlaggateError('POLICY_BUNDLE_INVALID', `policy bundle invalid: ${url} serves more than ${bundleLimits.tarball} bytes`);
      chunks.push(Buffer.from(chunk));
    }
  } catch (err) {
    if (err instanceof FlaggateError) throw err;
    throw unavailable(url, 'the answer broke off', err);
  }
  return Buffer.concat(chunks);
}

/** OPA's polling delay: uniform in [min, max] seconds, so a fleet does not ask in step. */
export function pollDelayMs(o: Pick<BundleServiceOptions, 'minDelaySeconds' | 'maxDelaySeconds'>, random: () => number = Math.random): number {
  return Math.round((o.minDelaySeconds + random() * (o.maxDelaySeconds - o.minDelaySeconds)) * 1000);
}

/**
 * Polls the bundle service until closed: each new bundle goes to `onBundle` (which verifies, loads
 * and records it, or throws and the running bundle stays), each failure to `onFailure`. `etag()` is
 * the ETag of the bundle in force, sent as If-None-Match. Polls never overlap; `pollNow` (SIGHUP)
 * runs one at once.
 */
export function pollBundleService(o: {
  service: BundleServiceOptions;
  etag(): string | undefined;
  onBundle(bundle: ServedBundle): Promise<void>;
  onFailure(error: unknown): void;
}): { pollNow(): Promise<void>; close(): void } {
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let running: Promise<void> = Promise.resolve();

  const pollOnce = async () => {
    try {
      const served = await fetchBundle(o.service, o.etag());
      if (served !== 'not-modified' && !closed) await o.onBundle(served);
    } catch (err) {
      if (!closed) o.onFailure(err);
    }
  };
  const pollNow = () => {
    running = running.then(pollOnce);
    return running;
  };
  const schedule = () => {
    if (closed) return;
    timer = setTimeout(() => void pollNow().then(schedule), pollDelayMs(o.service));
    timer.unref();
  };
  schedule();
  return {
    pollNow,
    close() {
      closed = true;
      clearTimeout(timer);
    },
  };
}
