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
  | 'ADAPT_TARGET_REFUSED'
  | 'ADAPT_QUERY_REFUSED'
  | 'ADAPT_WRITE_UNRECOGNIZED'
  | 'ADAPT_BODY_MALFORMED'
  | 'ADAPT_MEDIA_TYPE_UNSUPPORTED'
  | 'ADAPT_STATE_UNAVAILABLE'
  | 'ADAPT_TARGET_MISMATCH'
  | 'ADAPT_FLAGD_INVALID'
  | 'POLICY_DENIED'
  | 'POLICY_UNDEFINED'
  | 'POLICY_RESULT_INVALID'
  | 'POLICY_EVAL_FAILED'
  | 'POLICY_BUNDLE_INVALID'
  | 'POLICY_BUNDLE_UNSIGNED'
  | 'POLICY_BUNDLE_SIGNATURE_INVALID'
  | 'POLICY_BUNDLE_ALG_NOT_ALLOWED'
  | 'POLICY_BUNDLE_KEY_UNKNOWN'
  | 'POLICY_BUNDLE_KEY_EXPIRED'
  | 'POLICY_BUNDLE_DIGEST_MISMATCH'
  | 'POLICY_BUNDLE_FILE_UNSIGNED'
  | 'POLICY_BUNDLE_FILE_MISSING'
  | 'POLICY_BUNDLE_UNAVAILABLE'
  | 'POLICY_BUNDLE_ROLLBACK'
  | 'AUDIT_WRITE_FAILED'
  | 'AUDIT_DISK_FULL'
  | 'AUDIT_ENTRY_UNRECORDABLE'
  | 'AUDIT_CHAIN_BROKEN'
  | 'AUDIT_UPSTREAM_AHEAD'
  | 'AUDIT_EXPORT_TOO_LARGE'
  | 'REPLICATE_UNACKED'
  | 'REPLICATE_ROLE_PRIVILEGED'
  | 'REPLICATE_ROLE_UNREGISTERED'
  | 'ARCHIVE_UNAVAILABLE'
  | 'ARCHIVE_MISSING'
  | 'ARCHIVE_MISMATCH'
  | 'ARCHIVE_NOT_LOCKED'
  | 'ARCHIVE_BUSY'
  | 'FORWARD_PLATFORM_UNREACHABLE'
  | 'FORWARD_FAILED'
  | 'FORWARD_CONFLICT'
  | 'TIMESTAMP_INVALID'
  | 'TIMESTAMP_UNAVAILABLE'
  | 'CHANGE_NOT_FOUND'
  | 'CHANGE_NOT_PENDING'
  | 'CHANGE_EXPIRED'
  | 'CHANGE_STALE'
  | 'CHANGE_HELD_ELSEWHERE'
  | 'CHANGE_TAMPERED'
  | 'APPROVAL_SELF'
  | 'APPROVAL_DUPLICATE'
  | 'APPROVAL_ROLE_MISSING'
  | 'APPROVAL_TOKEN_MISMATCH'
  | 'APPROVAL_TOKEN_REPLAYED'
  | 'APPROVAL_TOKEN_LIFETIME'
  | 'APPROVAL_TOKEN_REQUESTER'
  | 'DRIFT_NOT_FOUND'
  | 'DRIFT_ALREADY_ACKNOWLEDGED'
  | 'BREAK_GLASS_NOT_FOUND'
  | 'BREAK_GLASS_SELF_REVIEW'
  | 'BREAK_GLASS_REVIEWER_NOT_A_PERSON'
  | 'BREAK_GLASS_ALREADY_REVIEWED'
  | 'CONTROL_FORBIDDEN'
  | 'CONTROL_METRICS_TOKEN_INVALID'
  | 'CONTROL_NOT_FOUND'
  | 'CONTROL_BAD_REQUEST'
  | 'CONTROL_BUSY'
  | 'SIDECAR_STOPPING'
  | 'CONSOLE_CSRF_INVALID'
  | 'CONSOLE_SIGN_IN_FAILED'
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
  /** A fragment, a non-origin-form target or a character a later hop could read differently. */
  ADAPT_TARGET_REFUSED: 400,
  /** A duplicated, empty or undeclared query parameter. */
  ADAPT_QUERY_REFUSED: 400,
  ADAPT_WRITE_UNRECOGNIZED: 403,
  ADAPT_BODY_MALFORMED: 400,
  ADAPT_MEDIA_TYPE_UNSUPPORTED: 415,
  ADAPT_STATE_UNAVAILABLE: 502,
  /**
   * An id the request names besides the flag (a strategy, a link, a feature id in the body) is not
   * where the path or the state read says: the platform would find it by that id and change it there.
   */
  ADAPT_TARGET_MISMATCH: 409,
  /** The flagd flag file the change would produce fails flagd's schema or holds a targeting rule flagd cannot build: nothing is written. */
  ADAPT_FLAGD_INVALID: 422,
  POLICY_DENIED: 403,
  POLICY_UNDEFINED: 500,
  POLICY_RESULT_INVALID: 500,
  POLICY_EVAL_FAILED: 500,
  POLICY_BUNDLE_INVALID: 500,
  /** A verification key is configured (always, in production) and the bundle has no /.signatures.json. */
  POLICY_BUNDLE_UNSIGNED: 500,
  /** A signature that does not verify with its pinned key, a malformed or multiple JWS, a scope mismatch. */
  POLICY_BUNDLE_SIGNATURE_INVALID: 500,
  /** `none`, HMAC or any algorithm off the allowlist, one other than the key is pinned to, or a weak file digest (MD5, SHA-1). */
  POLICY_BUNDLE_ALG_NOT_ALLOWED: 500,
  /** The signature names a key id no pinned key has. */
  POLICY_BUNDLE_KEY_UNKNOWN: 500,
  /** The signing key is past its `notAfter` (or its JWK `exp`). */
  POLICY_BUNDLE_KEY_EXPIRED: 500,
  /** A file changed after signing. */
  POLICY_BUNDLE_DIGEST_MISMATCH: 500,
  /** A file the signature does not list (added after signing). */
  POLICY_BUNDLE_FILE_UNSIGNED: 500,
  /** A file the signature lists is absent (removed after signing). */
  POLICY_BUNDLE_FILE_MISSING: 500,
  /** The bundle service gave no bundle (no answer, an answer other than 200 or 304) and no last-good bundle was kept to start with. */
  POLICY_BUNDLE_UNAVAILABLE: 503,
  /** A signed bundle whose files are those of one this sidecar had in force and replaced (an older bundle served again). */
  POLICY_BUNDLE_ROLLBACK: 500,
  AUDIT_WRITE_FAILED: 503,
  /**
   * 503 with Retry-After rather than 507: the condition is the sidecar's and passes once space
   * returns, and clients and load balancers already retry 503 + Retry-After; the code names it.
   */
  AUDIT_DISK_FULL: 503,
  /** The change cannot be described by an audit entry (non-finite number, too deep, lone surrogate, too long a field): refused, a capped stand-in records it. */
  AUDIT_ENTRY_UNRECORDABLE: 422,
  AUDIT_CHAIN_BROKEN: 500,
  /** An upstream copy holds entries or a checkpoint past the local head: the ledger was cut or restored; nothing is served or appended. */
  AUDIT_UPSTREAM_AHEAD: 503,
  /** The export package would pass `audit.exportMaxBytes`: the request must narrow its period or filters. */
  AUDIT_EXPORT_TOO_LARGE: 422,
  REPLICATE_UNACKED: 503,
  /** The PostgreSQL login could write any chain (owner, superuser, BYPASSRLS, CREATEROLE): refused in production. */
  REPLICATE_ROLE_PRIVILEGED: 503,
  /** The PostgreSQL login is not the registered writer of this chain, or the schema was never migrated. */
  REPLICATE_ROLE_UNREGISTERED: 503,
  /** The object store could not be reached, or refused an upload for a reason other than the lock. */
  ARCHIVE_UNAVAILABLE: 503,
  /** A segment the ledger records as archived is not in the store (that version is gone). */
  ARCHIVE_MISSING: 500,
  /** An archived segment differs from its recorded digest, or from the local chain. */
  ARCHIVE_MISMATCH: 500,
  /** The bucket or an archived version is not under a COMPLIANCE lock until its recorded date. */
  ARCHIVE_NOT_LOCKED: 500,
  /** Another `flaggate archive` run of the same ledger is under way. */
  ARCHIVE_BUSY: 503,
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
  /** A held change approved through a sidecar that did not hold it (another chain or platform target). */
  CHANGE_HELD_ELSEWHERE: 409,
  /** A stored held change whose request, change or ledger entries do not agree: never applied. */
  CHANGE_TAMPERED: 409,
  APPROVAL_SELF: 403,
  APPROVAL_DUPLICATE: 409,
  APPROVAL_ROLE_MISSING: 403,
  APPROVAL_TOKEN_MISMATCH: 403,
  APPROVAL_TOKEN_REPLAYED: 409,
  /** An approval token without `iat`, issued in the future, or living or kept longer than `approvals.tokenMaxLifetimeSeconds`. */
  APPROVAL_TOKEN_LIFETIME: 403,
  /** An approval token that names no requester, or another one than the person asking. */
  APPROVAL_TOKEN_REQUESTER: 403,
  /** No `drift.detected` entry with that event id. */
  DRIFT_NOT_FOUND: 404,
  /** The drift finding already has its acknowledgement; one is enough, and it stays. */
  DRIFT_ALREADY_ACKNOWLEDGED: 409,
  /** No break-glass change with that decision id. */
  BREAK_GLASS_NOT_FOUND: 404,
  /** The requester of a break-glass change cannot review it: a second person must. */
  BREAK_GLASS_SELF_REVIEW: 403,
  /**
   * A service account (client-credentials token) or an unauthenticated caller cannot complete the
   * review: nobody stands behind it, so whoever runs it could sign off on their own emergency change.
   */
  BREAK_GLASS_REVIEWER_NOT_A_PERSON: 403,
  /** The break-glass change already has its review; one is enough, and it stays. */
  BREAK_GLASS_ALREADY_REVIEWED: 409,
  CONTROL_FORBIDDEN: 403,
  /** `/metrics` without the configured scrape token (`metrics.bearerToken`), or with another one. */
  CONTROL_METRICS_TOKEN_INVALID: 401,
  CONTROL_NOT_FOUND: 404,
  CONTROL_BAD_REQUEST: 400,
  /** More audit log searches wait than the control port runs one after another: asked again shortly, it is answered. */
  CONTROL_BUSY: 503,
  /** The sidecar is stopping: a request that arrives on an open connection after the stop began is neither decided nor forwarded. */
  SIDECAR_STOPPING: 503,
  /** A console form sent without its session's CSRF token, or from another origin. */
  CONSOLE_CSRF_INVALID: 403,
  /** A console sign-in that did not complete: state, nonce, PKCE or the ID token did not verify. */
  CONSOLE_SIGN_IN_FAILED: 401,
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

/**
 * A FlaggateError that is an answer, not a fault (a policy denial): built without a stack trace,
 * which always points at the same place there, and whose capture (V8 walks the async frames too)
 * cost about 24 µs a denial under load.
 */
export function answerError(code: ErrorCode, message: string, options?: { details?: Record<string, unknown> }): FlaggateError {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return new FlaggateError(code, message, options);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Any thrown value as a FlaggateError; unknown failures become INTERNAL with the cause kept. */
export function asFlaggateError(err: unknown): FlaggateError {
  if (err instanceof FlaggateError) return err;
  // Express's router (the control port, the console) decodes a route's parameters before it looks
  // at the method, and throws a URIError marked 400 for one that is not valid percent-encoding
  // (`/v1/changes/%`): the caller's mistake, not a failure.
  if (err instanceof URIError && (err as { status?: unknown }).status === 400) {
    return new FlaggateError('CONTROL_BAD_REQUEST', 'the request path is not valid percent-encoding', { cause: err });
  }
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
