import { FlaggateError } from '../errors.js';

/** Why a timestamp request, reply or token was refused; one reason per check. */
export type TimestampReason =
  | 'TSA_STATUS_REJECTED'
  | 'TSA_MALFORMED'
  | 'TSA_IMPRINT_MISMATCH'
  | 'TSA_NONCE_MISMATCH'
  | 'TSA_SIGNATURE_INVALID'
  | 'TSA_SIGNED_ATTRS_INVALID'
  | 'TSA_CERT_BINDING_INVALID'
  | 'TSA_EKU_INVALID'
  | 'TSA_CHAIN_UNTRUSTED'
  | 'TSA_CERT_EXPIRED'
  | 'TSA_POLICY_NOT_ALLOWED'
  | 'TSA_ALGORITHM_UNSUPPORTED';

/**
 * A refused timestamp artifact: `code` is always `TIMESTAMP_INVALID` (the pipeline's view),
 * `reason` says which check failed (the auditor's view); `details.reason` carries it into replies.
 */
export class TimestampError extends FlaggateError {
  readonly reason: TimestampReason;

  constructor(reason: TimestampReason, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super('TIMESTAMP_INVALID', `${reason}: ${message}`, { ...options, details: { reason, ...options?.details } });
    this.reason = reason;
  }
}

/** Shorthand for a malformed-input failure while walking DER. */
export function malformed(what: string, cause?: unknown): TimestampError {
  return new TimestampError('TSA_MALFORMED', what, cause === undefined ? undefined : { cause });
}
