/**
 * One base error and a closed union of codes. Every reply that is not the platform's own carries
 * `{ code, message, decisionId }`; the HTTP status lives here, keyed by code, so a new code without
 * a status does not compile.
 */
export type ErrorCode =
  | 'INTERCEPT_BODY_TOO_LARGE'
  | 'INTERCEPT_HEADERS_TOO_LARGE'
  | 'IDENTIFY_TOKEN_MISSING'
  | 'IDENTIFY_TOKEN_MALFORMED'
  | 'IDENTIFY_TOKEN_INVALID'
  | 'IDENTIFY_TOKEN_EXPIRED'
  | 'IDENTIFY_TOKEN_NOT_YET_VALID'
  | 'IDENTIFY_ISSUER_MISMATCH'
  | 'IDENTIFY_AUDIENCE_MISMATCH'
  | 'IDENTIFY_ALG_NOT_ALLOWED'
  | 'IDENTIFY_KEY_UNKNOWN'
  | 'IDENTIFY_CLAIMS_INVALID'
  | 'IDENTIFY_JWKS_UNAVAILABLE'
  | 'ADAPT_ROUTE_UNKNOWN'
  | 'ADAPT_WRITE_UNRECOGNIZED'
  | 'ADAPT_BODY_MALFORMED'
  | 'ADAPT_MEDIA_TYPE_UNSUPPORTED'
  | 'ADAPT_STATE_UNAVAILABLE'
  | 'POLICY_DENIED'
  | 'POLICY_UNDEFINED'
  | 'POLICY_RESULT_INVALID'
  | 'POLICY_EVAL_FAILED'
  | 'POLICY_BUNDLE_INVALID'
  | 'AUDIT_WRITE_FAILED'
  | 'AUDIT_CHAIN_BROKEN'
  | 'AUDIT_EXPORT_TOO_LARGE'
  | 'REPLICATE_UNACKED'
  | 'FORWARD_PLATFORM_UNREACHABLE'
  | 'FORWARD_FAILED'
  | 'FORWARD_CONFLICT'
  | 'TIMESTAMP_INVALID'
  | 'TIMESTAMP_UNAVAILABLE'
  | 'CHANGE_NOT_FOUND'
  | 'CHANGE_NOT_PENDING'
  | 'CHANGE_EXPIRED'
  | 'CHANGE_STALE'
  | 'APPROVAL_SELF'
  | 'APPROVAL_DUPLICATE'
  | 'APPROVAL_ROLE_MISSING'
  | 'APPROVAL_TOKEN_MISMATCH'
  | 'APPROVAL_TOKEN_REPLAYED'
  | 'CONTROL_FORBIDDEN'
  | 'CONTROL_NOT_FOUND'
  | 'CONTROL_BAD_REQUEST'
  | 'CONFIG_INVALID'
  | 'INTERNAL';

export const httpStatus: Record<ErrorCode, number> = {
  INTERCEPT_BODY_TOO_LARGE: 413,
  INTERCEPT_HEADERS_TOO_LARGE: 431,
  IDENTIFY_TOKEN_MISSING: 401,
  IDENTIFY_TOKEN_MALFORMED: 401,
  IDENTIFY_TOKEN_INVALID: 401,
  IDENTIFY_TOKEN_EXPIRED: 401,
  IDENTIFY_TOKEN_NOT_YET_VALID: 401,
  IDENTIFY_ISSUER_MISMATCH: 401,
  IDENTIFY_AUDIENCE_MISMATCH: 401,
  IDENTIFY_ALG_NOT_ALLOWED: 401,
  IDENTIFY_KEY_UNKNOWN: 401,
  IDENTIFY_CLAIMS_INVALID: 401,
  IDENTIFY_JWKS_UNAVAILABLE: 503,
  ADAPT_ROUTE_UNKNOWN: 404,
  ADAPT_WRITE_UNRECOGNIZED: 403,
  ADAPT_BODY_MALFORMED: 400,
  ADAPT_MEDIA_TYPE_UNSUPPORTED: 415,
  ADAPT_STATE_UNAVAILABLE: 502,
  POLICY_DENIED: 403,
  POLICY_UNDEFINED: 500,
  POLICY_RESULT_INVALID: 500,
  POLICY_EVAL_FAILED: 500,
  POLICY_BUNDLE_INVALID: 500,
  AUDIT_WRITE_FAILED: 503,
  AUDIT_CHAIN_BROKEN: 500,
  /** The export package would pass `audit.exportMaxBytes`: the request must narrow its period or filters. */
  AUDIT_EXPORT_TOO_LARGE: 422,
  REPLICATE_UNACKED: 503,
  FORWARD_PLATFORM_UNREACHABLE: 502,
  FORWARD_FAILED: 502,
  /** The flag's state at apply time is not the previous state the decision was made on: not applied. */
  FORWARD_CONFLICT: 409,
  TIMESTAMP_INVALID: 502,
  TIMESTAMP_UNAVAILABLE: 503,
  CHANGE_NOT_FOUND: 404,
  CHANGE_NOT_PENDING: 409,
  CHANGE_EXPIRED: 410,
  /** The flag changed on the platform since the request was held: it must be requested again. */
  CHANGE_STALE: 409,
  APPROVAL_SELF: 403,
  APPROVAL_DUPLICATE: 409,
  APPROVAL_ROLE_MISSING: 403,
  APPROVAL_TOKEN_MISMATCH: 403,
  APPROVAL_TOKEN_REPLAYED: 409,
  CONTROL_FORBIDDEN: 403,
  CONTROL_NOT_FOUND: 404,
  CONTROL_BAD_REQUEST: 400,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
};

export class FlaggateError extends Error {
  readonly code: ErrorCode;
  /** Evidence for auditors and operators (never secrets): the seq, the hashes, the claim at fault. */
  readonly details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.details = options?.details ?? {};
  }

  get status(): number {
    return httpStatus[this.code];
  }
}

/** Any thrown value as a FlaggateError; unknown failures become INTERNAL with the cause kept. */
export function asFlaggateError(err: unknown): FlaggateError {
  if (err instanceof FlaggateError) return err;
  return new FlaggateError('INTERNAL', 'internal error', { cause: err });
}

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  decisionId?: string;
  details?: Record<string, unknown>;
}

export function errorBody(err: FlaggateError, decisionId?: string): ErrorBody {
  const body: ErrorBody = { code: err.code, message: err.message };
  if (decisionId) body.decisionId = decisionId;
  if (Object.keys(err.details).length > 0) body.details = err.details;
  return body;
}
