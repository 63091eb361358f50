import { FlaggateError } from '../errors.js';

// RFC 9110 auth-scheme (a token) then one or more spaces then a single credential with no spaces.
const CREDENTIALS = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) +([^\s]+)$/;
// Compact JWS: three base64url segments; the signature may be empty here so `alg: none` is reported as such.
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** The protected header fields the verifier looks at before any cryptography. */
export interface ScreenedHeader {
  alg: string;
  kid?: string;
}

/**
 * The compact JWS from `Authorization: Bearer <token>`, checked for shape and size only.
 * The scheme is case-insensitive; anything but exactly one token is malformed.
 */
export function parseBearer(authorization: string | undefined, tokenBytes: number): string {
  if (authorization === undefined || authorization === '') {
    throw new FlaggateError('IDENTIFY_TOKEN_MISSING', 'an Authorization: Bearer token is required');
  }
  // Bound the work before matching; the scheme and spaces get a little room beyond the token cap.
  if (authorization.length > tokenBytes + 64) {
    throw malformed('the Authorization header is too large', { bytes: authorization.length, limit: tokenBytes });
  }
  const m = CREDENTIALS.exec(authorization);
  if (!m) throw malformed('expected "Bearer <token>" with a single token');
  const [, scheme = '', token = ''] = m;
  if (scheme.toLowerCase() !== 'bearer') throw malformed('the authorization scheme must be Bearer', { scheme });
  if (Buffer.byteLength(token, 'utf8') > tokenBytes) {
    throw malformed('the token is too large', { bytes: Buffer.byteLength(token, 'utf8'), limit: tokenBytes });
  }
  if (!COMPACT.test(token)) throw malformed('the token is not a compact JWS');
  return token;
}

/**
 * Reads the protected header and rejects, before any key lookup or signature check, `alg: none`,
 * any HMAC algorithm and anything outside the allowlist.
 */
export function screenHeader(token: string, allowed: ReadonlySet<string>): ScreenedHeader {
  const [encodedHeader = '', , signature = ''] = token.split('.');
  let header: unknown;
  try {
    header = JSON.parse(strictUtf8.decode(Buffer.from(encodedHeader, 'base64url')));
  } catch (cause) {
    throw new FlaggateError('IDENTIFY_TOKEN_MALFORMED', 'the token header is not JSON', { cause });
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw malformed('the token header is not a JSON object');
  }
  const { alg, kid } = header as Record<string, unknown>;
  if (typeof alg !== 'string' || alg === '') throw malformed('the token header has no alg');
  if (alg.toLowerCase() === 'none' || /^HS/i.test(alg) || !allowed.has(alg)) {
    throw new FlaggateError('IDENTIFY_ALG_NOT_ALLOWED', `algorithm ${JSON.stringify(alg)} is not allowed`, {
      details: { alg },
    });
  }
  if (signature === '') throw malformed('the token has no signature');
  if (kid !== undefined && typeof kid !== 'string') throw malformed('the token header kid is not a string');
  return kid === undefined ? { alg } : { alg, kid };
}

function malformed(message: string, details?: Record<string, unknown>): FlaggateError {
  return new FlaggateError('IDENTIFY_TOKEN_MALFORMED', message, details ? { details } : undefined);
}
