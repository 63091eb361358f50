import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { FlaggateError } from '../errors.js';
import { TimestampError } from './errors.js';
import { buildTimeStampReq, parseTimeStampReq } from './request.js';
import { parseTimeStampResp } from './response.js';
import { parseSignedDataToken } from './signed-data.js';
import { postTimestampQuery } from './tsa-client.js';
import type { TsaEndpoint } from './tsa-client.js';
import { verifyTimestampToken } from './token.js';
import type { TSTInfo } from './tst-info.js';
import { parseTstInfo } from './tst-info.js';

/** PEM text as given, or read from the path given. */
function pemText(v: string): string {
  return v.includes('-----BEGIN') ? v : readFileSync(v, 'utf8');
}

function digestOf(o: { digestHex?: string; dataPath?: string }): string | undefined {
  if (o.digestHex) return o.digestHex.toLowerCase();
  if (o.dataPath) return createHash('sha256').update(readFileSync(o.dataPath)).digest('hex');
  return undefined;
}

/**
 * `flaggate tsa verify`: checks a DER TimeStampResp or bare token file. `trustPem`/`untrustedPem` take
 * PEM text or a file path. The expected imprint comes from `digestHex`, the SHA-256 of `dataPath`, or
 * the query at `requestPath` (whose nonce and policy are then checked too). Never throws for a bad token.
 */
export function verifyTokenFile(o: { tokenPath: string; digestHex?: string; dataPath?: string; trustPem: string; untrustedPem?: string; requestPath?: string }): {
  ok: boolean;
  code?: string;
  message?: string;
  tstInfo?: TSTInfo;
} {
  const tokenDer = readFileSync(o.tokenPath);
  try {
    const req = o.requestPath ? parseTimeStampReq(readFileSync(o.requestPath)) : undefined;
    const digest = digestOf(o) ?? req?.imprint.toString('hex');
    if (!digest) throw new TypeError('verifyTokenFile needs digestHex, dataPath or requestPath');
    const v = verifyTimestampToken(tokenDer, {
      trustAnchorsPem: pemText(o.trustPem),
      digest,
      ...(o.untrustedPem ? { untrustedPem: pemText(o.untrustedPem) } : {}),
      ...(req?.nonce !== undefined ? { nonce: req.nonce } : {}),
      ...(req?.reqPolicy ? { policyAllowlist: [req.reqPolicy] } : {}),
    });
    if (req && v.tstInfo.imprint !== req.imprint.toString('hex')) {
      throw new TimestampError('TSA_IMPRINT_MISMATCH', 'imprint differs from the request');
    }
    return { ok: true, tstInfo: v.tstInfo };
  } catch (err) {
    if (!(err instanceof FlaggateError)) throw err;
    return { ok: false, code: err instanceof TimestampError ? err.reason : err.code, message: err.message };
  }
}

/**
 * `flaggate tsa request`: asks a TSA for a token and writes the DER TimeStampResp to `outPath`.
 * Checks status, imprint and nonce (no trust anchors here: `verifyTokenFile` checks the signature).
 */
export async function requestToken(o: { url: string; digestHex?: string; dataPath?: string; outPath: string; timeoutMs?: number; auth?: TsaEndpoint['auth'] }): Promise<{ tstInfo: TSTInfo }> {
  const digest = digestOf(o);
  if (!digest) throw new TypeError('requestToken needs digestHex or dataPath');
  const { der, nonce } = buildTimeStampReq({ digest });
  const headers: Record<string, string> = o.auth?.bearer ? { authorization: `Bearer ${o.auth.bearer}` } : {};
  if (o.auth?.basic) headers.authorization = `Basic ${Buffer.from(`${o.auth.basic.user}:${o.auth.basic.pass}`).toString('base64')}`;
  let reply: Buffer;
  try {
    reply = await postTimestampQuery(o.url, der, o.timeoutMs ?? 10_000, headers);
  } catch (err) {
    if (err instanceof FlaggateError) throw err;
    throw new FlaggateError('TIMESTAMP_UNAVAILABLE', `${o.url}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const tstInfo = parseTstInfo(parseSignedDataToken(parseTimeStampResp(reply).token).eContent);
  if (tstInfo.imprint !== digest) throw new TimestampError('TSA_IMPRINT_MISMATCH', 'reply imprint differs from the digest sent');
  if (tstInfo.nonce !== nonce.toString()) throw new TimestampError('TSA_NONCE_MISMATCH', 'reply nonce differs from the one sent');
  writeFileSync(o.outPath, reply);
  return { tstInfo };
}
