import { errors, jwtVerify } from 'jose';
import type { JWTPayload, JWTVerifyOptions } from 'jose';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import type { Actor } from './actor.js';
import { checkAlgorithms } from './algorithms.js';
import { parseBearer, screenHeader } from './bearer.js';
import { actorFromClaims } from './claims.js';
import { fromJoseError } from './jose-errors.js';
import { trustedIssuer } from './jwks.js';
import { createVerifiedCache } from './verified-cache.js';
import type { GetKey } from './jwks.js';

/** What the identify stage is built from. */
export interface IdentifyDeps {
  identity: Config['identity'];
  dataDir: string;
  /** Cap on the token's size (`limits.tokenBytes`). */
  tokenBytes: number;
  clock: Clock;
}

/** The identify stage: an Authorization header in, a verified Actor out, or a coded 401/503. */
export interface Identify {
  identify(authorization: string | undefined): Promise<Actor>;
}

/** Builds the identify stage; a configuration that allows HS* or `none` is refused here. */
export function createIdentify(deps: IdentifyDeps): Identify {
  const { identity, tokenBytes, clock } = deps;
  const allowed = checkAlgorithms(identity.algorithms);
  if (!Number.isInteger(tokenBytes) || tokenBytes <= 0) throw new TypeError('tokenBytes must be a positive integer');
  if (!Number.isInteger(identity.leewaySeconds) || identity.leewaySeconds < 0) {
    throw new TypeError('identity.leewaySeconds must be a non-negative integer');
  }
  const trusted = trustedIssuer(identity, deps.dataDir);
  const paths = {
    rolesClaim: identity.rolesClaim,
    nameClaim: identity.nameClaim,
    groupsClaim: identity.groupsClaim,
    serviceAccountClaim: identity.serviceAccountClaim,
  };

  const cache = createVerifiedCache({ maxSeconds: identity.verifiedCacheSeconds, maxEntries: 10_000, leewaySeconds: identity.leewaySeconds });

  return {
    async identify(authorization) {
      const token = parseBearer(authorization, tokenBytes);
      const cached = cache.get(token, clock.now());
      if (cached) return cached;
      const payload = await verifyCompactJwt(token, allowed, trusted.getKey, {
        issuer: trusted.issuer,
        audience: trusted.audience,
        algorithms: [...allowed],
        clockTolerance: identity.leewaySeconds,
        currentDate: new Date(clock.now()),
        requiredClaims: ['sub', 'exp'],
      });
      refuseIdToken(payload, identity.acceptNonceInAccessTokens);
      const actor = actorFromClaims(payload, paths, trusted.authMethod);
      cache.put(token, actor, payload.exp!, clock.now());
      return actor;
    },
  };
}

/**
 * An OpenID Connect ID token says who signed in to a client, not what may call this API; one whose
 * audience is this API's (a client whose id is the API's audience) would pass every other check.
 * It is told by the claims only ID tokens carry (OpenID Connect Core 1.0, 2 and 3.3.2.11):
 * `nonce`, and the hashes binding it to its code or access token. (Keycloak before 24 also puts
 * `nonce` into access tokens: `identity.acceptNonceInAccessTokens` then leaves the hashes to tell.)
 */
function refuseIdToken(payload: JWTPayload, acceptNonce: boolean): void {
  const claim = ID_TOKEN_CLAIMS.find((c) => payload[c] !== undefined && !(acceptNonce && c === 'nonce'));
  if (claim) throw new FlaggateError('IDENTIFY_CLAIMS_INVALID', `the bearer token is an ID token (it carries ${claim}), not an access token`, { details: { claim } });
}

const ID_TOKEN_CLAIMS = ['nonce', 'at_hash', 'c_hash', 's_hash'] as const;

/**
 * A compact JWS screened (no `none`, no HMAC, only `allowed`) and then verified by jose with
 * `options`; every failure is a coded IDENTIFY_* FlaggateError. Shared with approval tokens.
 */
export async function verifyCompactJwt(
  token: string,
  allowed: ReadonlySet<string>,
  getKey: GetKey,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  screenHeader(token, allowed);
  try {
    return (await jwtVerify(token, getKey, options)).payload;
  } catch (err) {
    if (err instanceof errors.JWKSMultipleMatchingKeys) return verifyWithEach(token, err, options);
    throw fromJoseError(err);
  }
}

/** A token without a kid may match several keys of the set; the one that verifies decides. */
async function verifyWithEach(
  token: string,
  candidates: errors.JWKSMultipleMatchingKeys,
  options: JWTVerifyOptions,
): Promise<JWTPayload> {
  for await (const key of candidates) {
    try {
      return (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      if (!(err instanceof errors.JWSSignatureVerificationFailed)) throw fromJoseError(err);
    }
  }
  throw new FlaggateError('IDENTIFY_TOKEN_INVALID', 'the token signature does not verify with any matching key', {
    cause: candidates,
  });
}
