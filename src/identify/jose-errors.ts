import { errors } from 'jose';
import { FlaggateError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

/**
 * A verification failure from jose as a coded FlaggateError, the jose error kept as `cause`.
 * FlaggateErrors pass through; anything that is not a JOSEError is returned unchanged (a bug of ours).
 */
export function fromJoseError(err: unknown): unknown {
  if (err instanceof FlaggateError || !(err instanceof errors.JOSEError)) return err;
  const [code, message, details] = classify(err);
  return new FlaggateError(code, message, { cause: err, details });
}

function classify(err: errors.JOSEError): [ErrorCode, string, Record<string, unknown>] {
  if (err instanceof errors.JWTExpired) return ['IDENTIFY_TOKEN_EXPIRED', 'the token has expired', { claim: err.claim }];
  if (err instanceof errors.JWTClaimValidationFailed) {
    const details = { claim: err.claim, reason: err.reason };
    if (err.claim === 'iss') return ['IDENTIFY_ISSUER_MISMATCH', 'the token is from an untrusted issuer', details];
    if (err.claim === 'aud') return ['IDENTIFY_AUDIENCE_MISMATCH', 'the token is not meant for this audience', details];
    if (err.claim === 'nbf' && err.reason === 'check_failed') {
      return ['IDENTIFY_TOKEN_NOT_YET_VALID', 'the token is not valid yet', details];
    }
    return ['IDENTIFY_CLAIMS_INVALID', `the ${JSON.stringify(err.claim)} claim is invalid`, details];
  }
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) {
    return ['IDENTIFY_KEY_UNKNOWN', 'no trusted key matches the token', {}];
  }
  if (err instanceof errors.JWKSTimeout) return ['IDENTIFY_JWKS_UNAVAILABLE', 'the key set could not be fetched', {}];
  if (err instanceof errors.JOSEAlgNotAllowed) return ['IDENTIFY_ALG_NOT_ALLOWED', 'the token algorithm is not allowed', {}];
  if (err instanceof errors.JWSSignatureVerificationFailed) {
    return ['IDENTIFY_TOKEN_INVALID', 'the token signature does not verify', {}];
  }
  return ['IDENTIFY_TOKEN_INVALID', 'the token is invalid', { joseCode: err.code }];
}
