import type { Clock } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { TimestampError } from './errors.js';
import { MAX_DER_BYTES } from './der.js';
import { buildTimeStampReq } from './request.js';
import { verifyTimestampToken } from './token.js';
import type { TSTInfo } from './tst-info.js';

/** One TSA endpoint, tried in the order configured. */
export interface TsaEndpoint {
  url: string;
  auth?: { basic?: { user: string; pass: string }; bearer?: string };
}

export interface TsaClientOptions {
  urls: TsaEndpoint[];
  timeoutMs: number;
  trustAnchorsPem: string | string[];
  untrustedPem?: string | string[];
  policyAllowlist?: readonly string[];
  clock: Clock;
}

/** Why one TSA did not give a usable token. */
export interface TsaAttempt {
  url: string;
  code: string;
  message: string;
  ms: number;
}

export interface TsaClient {
  /** Gets a verified token over a SHA-256 digest (hex) from the first TSA that gives one. */
  stamp(digestHex: string): Promise<{ token: Buffer; tstInfo: TSTInfo; tsa: string }>;
}

function authHeader(auth: TsaEndpoint['auth']): Record<string, string> {
  if (auth?.basic) return { authorization: `Basic ${Buffer.from(`${auth.basic.user}:${auth.basic.pass}`).toString('base64')}` };
  if (auth?.bearer) return { authorization: `Bearer ${auth.bearer}` };
  return {};
}

/** Posts one DER query; returns the DER reply or throws with what went wrong on the wire. */
export async function postTimestampQuery(url: string, tsq: Buffer, timeoutMs: number, headers: Record<string, string> = {}): Promise<Buffer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query', accept: 'application/timestamp-reply', ...headers },
    body: tsq,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = Buffer.from(await res.arrayBuffer());
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/timestamp-reply') throw new Error(`content type "${type}" is not application/timestamp-reply`);
  if (body.length > MAX_DER_BYTES) throw new TimestampError('TSA_MALFORMED', `reply of ${body.length} bytes is too large`);
  return body;
}

/**
 * A client for a list of RFC 3161 TSAs: each reply is verified fully (signature, chain, imprint,
 * nonce, policy) before it is accepted; on any failure the next TSA is tried. When none succeeds it
 * throws `TIMESTAMP_UNAVAILABLE` with `details.attempts`, one reason per URL.
 */
export function createTsaClient(o: TsaClientOptions): TsaClient {
  if (o.urls.length === 0) throw new TypeError('createTsaClient needs at least one TSA URL');
  return {
    async stamp(digestHex) {
      const attempts: TsaAttempt[] = [];
      for (const ep of o.urls) {
        const started = o.clock.monotonic();
        try {
          const { der, nonce } = buildTimeStampReq({ digest: digestHex, certReq: true });
          const reply = await postTimestampQuery(ep.url, der, o.timeoutMs, authHeader(ep.auth));
          const v = verifyTimestampToken(reply, {
            trustAnchorsPem: o.trustAnchorsPem, digest: digestHex, nonce,
            ...(o.untrustedPem ? { untrustedPem: o.untrustedPem } : {}),
            ...(o.policyAllowlist ? { policyAllowlist: o.policyAllowlist } : {}),
          });
          return { token: v.token, tstInfo: v.tstInfo, tsa: ep.url };
        } catch (err) {
          const code = err instanceof TimestampError ? err.reason : err instanceof Error && err.name === 'TimeoutError' ? 'TIMEOUT' : 'UNREACHABLE';
          attempts.push({ url: ep.url, code, message: err instanceof Error ? err.message : String(err), ms: o.clock.monotonic() - started });
        }
      }
      throw new FlaggateError('TIMESTAMP_UNAVAILABLE', `no TSA gave a valid token (${attempts.map((a) => `${a.url}: ${a.code}`).join('; ')})`, { details: { attempts } });
    },
  };
}
