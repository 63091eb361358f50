import { personKey } from './person.js';
import { decodeJwt } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/schema.js';
import { FlaggateError } from '../errors.js';
import { checkAlgorithms, fileKeys, isServiceAccount, remoteKeys, verifyCompactJwt, type GetKey } from '../identify/index.js';
import type { Approval } from './store.js';

/** What an approval token must be bound to: the held request's method, path and body digest. */
export interface ApprovalBinding {
  method: string;
  path: string;
  bodySha256: string;
}

/** A verified approval token, not yet spent. */
export interface ApprovalClaims {
  issuer: string;
  jti: string;
  approval: Approval;
}

/** Verifies `X-Flaggate-Approval` tokens from the configured approval systems. */
export type VerifyApprovalToken = (token: string, binding: ApprovalBinding) => Promise<ApprovalClaims>;

const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

interface TrustedApprover {
  issuer: string;
  audience: string;
  allowed: ReadonlySet<string>;
  getKey: GetKey;
  subjectClaim: string;
}

/**
 * Builds the verifier for approval tokens. A token must come from a configured issuer, verify
 * against that issuer's key set, carry `jti`, `sub` and `exp`, and be bound to the change by
 * `change_sha256` (the body digest), `htm` (method) and `htu` (path and query): a token for any other
 * change is APPROVAL_TOKEN_MISMATCH. Spending the jti is the caller's job (single use).
 */
export function createApprovalTokenVerifier(deps: {
  issuers: Config['approvals']['issuers'];
  leewaySeconds: number;
  tokenBytes: number;
  clock: Clock;
}): VerifyApprovalToken {
  const trusted = new Map<string, TrustedApprover>();
  for (const i of deps.issuers) {
    const getKey = i.jwksUrl ? remoteKeys(new URL(i.jwksUrl)) : fileKeys(i.jwksFile!);
    trusted.set(i.issuer, { issuer: i.issuer, audience: i.audience, allowed: checkAlgorithms(i.algorithms), getKey, subjectClaim: i.subjectClaim });
  }

  return async (token, binding) => {
    if (token.length > deps.tokenBytes || !COMPACT.test(token)) {
      throw new FlaggateError('IDENTIFY_TOKEN_MALFORMED', 'X-Flaggate-Approval is not a compact JWS of acceptable size');
    }
    // The issuer picks the key set; everything read here is checked again by the verification below.
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch (cause) {
      throw new FlaggateError('IDENTIFY_TOKEN_MALFORMED', 'X-Flaggate-Approval has no readable claims', { cause });
    }
    const approver = typeof iss === 'string' ? trusted.get(iss) : undefined;
    if (!approver) throw new FlaggateError('IDENTIFY_ISSUER_MISMATCH', 'the approval token is from an untrusted issuer', { details: { claim: 'iss' } });
    const payload = await verifyCompactJwt(token, approver.allowed, approver.getKey, {
      issuer: approver.issuer,
      audience: approver.audience,
      algorithms: [...approver.allowed],
      clockTolerance: deps.leewaySeconds,
      currentDate: new Date(deps.clock.now()),
      requiredClaims: ['sub', 'exp', 'jti'],
    });
    const mismatched = [
      ['change_sha256', binding.bodySha256],
      ['htm', binding.method.toUpperCase()],
      ['htu', binding.path],
    ].filter(([claim, want]) => payload[claim!] !== want);
    if (mismatched.length > 0) {
      throw new FlaggateError('APPROVAL_TOKEN_MISMATCH', 'the approval token is bound to a different change', {
        details: { claims: mismatched.map(([claim]) => claim) },
      });
    }
    const roles = payload['roles'];
    if (!Array.isArray(roles) || !roles.every((r): r is string => typeof r === 'string' && r !== '')) {
      throw new FlaggateError('IDENTIFY_CLAIMS_INVALID', 'the approval token roles claim must be an array of strings', { details: { claim: 'roles' } });
    }
    const jti = payload.jti!;
    return {
      issuer: approver.issuer,
      jti,
      approval: {
        approverId: personKey(subjectOf(payload, approver.subjectClaim)),
        roles,
        // A token naming a service account is that account's approval, whatever system signed it.
        authMethod: isServiceAccount(payload, undefined) ? 'client-credentials' : 'jwt',
        approvedAt: new Date(deps.clock.now()).toISOString(),
        reason: null,
        proof: `token:${approver.issuer}#${jti}`,
      },
    };
  };
}

/** The approver's id from the configured claim (it must name people as the identity provider does). */
function subjectOf(payload: Record<string, unknown>, claim: string): string {
  const value = payload[claim];
  if (typeof value !== 'string' || value.trim() === '') {
    throw new FlaggateError('IDENTIFY_CLAIMS_INVALID', `the approval token has no ${claim} claim naming the approver`, { details: { claim } });
  }
  return value;
}
