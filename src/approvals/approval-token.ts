import { personKey, samePerson } from './person.js';
import { decodeJwt } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import { checkAlgorithms, fileKeys, isServiceAccount, remoteKeys, verifyCompactJwt, type GetKey } from '../identify/index.js';
import type { Approval } from './store.js';

/** What an approval token must be bound to: the request's method, path and body digest, who asks, and their ticket. */
export interface ApprovalBinding {
  /** The id of the platform the change is made on (a sidecar may front several). */
  platform: string;
  method: string;
  path: string;
  bodySha256: string;
  /** The requester's id: the token must name them (its requester claim). */
  requesterId: string;
  /** The request's X-Flaggate-Ticket; a token that names a ticket must name this one. */
  ticket: string | undefined;
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
  audience: string[];
  allowed: ReadonlySet<string>;
  getKey: GetKey;
  subjectClaim: string;
  requesterClaim: string;
}

/**
 * Builds the verifier for approval tokens. A token must come from a configured issuer, verify
 * against that issuer's key set, carry `jti`, `sub`, `iat` and `exp`, and be bound to the change by
 * `change_sha256` (the body digest), `htm` (method), `htu` (path and query) and `ticket` when it
 * names one, and `platform` (the platform's id) when it names one, which it must where the sidecar
 * fronts several platforms (`htu` is the path as that platform sees it, its prefix taken off, so the
 * same path and body under another platform's prefix would otherwise pass): a token for any other
 * change is APPROVAL_TOKEN_MISMATCH. It must name the requester
 * (APPROVAL_TOKEN_REQUESTER) and live no longer than `maxLifetimeSeconds` from its `iat`
 * (APPROVAL_TOKEN_LIFETIME).
 *
 * Spending the jti is the caller's job (single use), in the change store. The token's `aud` names
 * the sidecar it approves a change at, by its chain (`<audience>:<chainId>`): a local store knows
 * only this sidecar's spent jtis, so a token spent at one sidecar is not accepted by another; and
 * the approver, not the requester, picks the platform target the change is made on. With a shared
 * store (spent jtis known to the whole fleet) a token naming one of `peerChains`, replicas in front
 * of the same target, is accepted too. A bare `<audience>` names no sidecar and is refused.
 */
export function createApprovalTokenVerifier(deps: {
  issuers: Config['approvals']['issuers'];
  leewaySeconds: number;
  tokenBytes: number;
  maxLifetimeSeconds: number;
  /** This sidecar's chain id, which a chain-bound `aud` names. */
  chainId: string;
  /** Whether spent jtis are shared by every sidecar (the PostgreSQL change store). */
  sharedJtis: boolean;
  /** Chains of replicas in front of the same target (`approvals.peerChains`), whose tokens count here with a shared store. */
  peerChains: readonly string[];
  /** Whether a token must name its platform (`platform` claim): true where the sidecar fronts several. */
  platformClaimRequired: boolean;
  clock: Clock;
}): VerifyApprovalToken {
  const trusted = new Map<string, TrustedApprover>();
  for (const i of deps.issuers) {
    const getKey = i.jwksUrl ? remoteKeys(new URL(i.jwksUrl)) : fileKeys(i.jwksFile!);
    const chains = deps.sharedJtis ? [deps.chainId, ...deps.peerChains] : [deps.chainId];
    trusted.set(i.issuer, {
      issuer: i.issuer,
      audience: chains.map((chain) => `${i.audience}:${chain}`),
      allowed: checkAlgorithms(i.algorithms),
      getKey,
      subjectClaim: i.subjectClaim,
      requesterClaim: i.requesterClaim,
    });
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
    checkEveryAudience(payload.aud, approver.audience);
    checkLifetime(payload, deps.clock.now() / 1000, deps.maxLifetimeSeconds, deps.leewaySeconds);
    const mismatched = [
      ['change_sha256', binding.bodySha256],
      ['htm', binding.method.toUpperCase()],
      ['htu', binding.path],
      ...(payload['ticket'] === undefined ? [] : [['ticket', binding.ticket]]),
      ...(payload['platform'] === undefined && !deps.platformClaimRequired ? [] : [['platform', binding.platform]]),
    ].filter(([claim, want]) => payload[claim!] !== want);
    if (mismatched.length > 0) {
      throw new FlaggateError('APPROVAL_TOKEN_MISMATCH', 'the approval token is bound to a different change', {
        details: { claims: mismatched.map(([claim]) => claim) },
      });
    }
    checkRequester(payload, approver.requesterClaim, binding.requesterId);
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

/**
 * jose takes a token whose `aud` list holds one accepted value; each value must be one, or a token
 * naming this sidecar and another (with its own spent jtis) would be spent once at each.
 */
function checkEveryAudience(aud: unknown, accepted: readonly string[]): void {
  const audiences = Array.isArray(aud) ? (aud as unknown[]) : [aud];
  if (!audiences.every((a) => typeof a === 'string' && accepted.includes(a))) {
    throw new FlaggateError('IDENTIFY_AUDIENCE_MISMATCH', 'the approval token also names a sidecar whose spent tokens this one does not know', { details: { claim: 'aud' } });
  }
}

/**
 * The token's lifetime: `iat` present, not in the future, and neither `exp - iat` nor its age past
 * `maxSeconds`. A long-lived approval could be held back and used long after the review it records.
 */
function checkLifetime(payload: Record<string, unknown>, nowSeconds: number, maxSeconds: number, leeway: number): void {
  const { iat, exp } = payload;
  const refuse = (message: string, details: Record<string, unknown>) =>
    new FlaggateError('APPROVAL_TOKEN_LIFETIME', message, { details: { maxLifetimeSeconds: maxSeconds, ...details } });
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('the approval token has no iat claim', { claim: 'iat' });
  if (iat > nowSeconds + leeway) throw refuse('the approval token was issued in the future', { claim: 'iat' });
  if (typeof exp === 'number' && exp - iat > maxSeconds) throw refuse(`the approval token lives longer than ${maxSeconds} s`, { claim: 'exp' });
  if (nowSeconds - iat > maxSeconds + leeway) throw refuse(`the approval token was issued more than ${maxSeconds} s ago`, { claim: 'iat' });
}

/** The token names the person whose change it approves: one issued for someone else's change is refused. */
function checkRequester(payload: Record<string, unknown>, claim: string, requesterId: string): void {
  const named = payload[claim];
  if (typeof named !== 'string' || named.trim() === '') {
    throw new FlaggateError('APPROVAL_TOKEN_REQUESTER', `the approval token has no ${claim} claim naming the requester`, { details: { claim, reason: 'missing' } });
  }
  if (!samePerson(named, requesterId)) {
    throw new FlaggateError('APPROVAL_TOKEN_REQUESTER', 'the approval token was issued for another requester', { details: { claim, reason: 'mismatch' } });
  }
}
