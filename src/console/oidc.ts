import * as client from 'openid-client';
import type { Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { FlaggateError, asFlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { actorFromClaims } from '../identify/index.js';
import { checkAlgorithms, remoteKeys, verifyCompactJwt } from '../identify/index.js';

type OidcConfig = NonNullable<Config['console']['oidc']>;

/** What a sign-in through the provider needs to remember between the redirect and the callback. */
export interface OidcChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface OidcSignIn {
  /** The provider's authorization URL for a new sign-in, and the values the callback must match. */
  start(redirectUri: string): Promise<{ url: string; checks: OidcChecks }>;
  /** The callback URL the provider sent the browser to, checked against `checks`; the signed-in Actor. */
  finish(callbackUrl: string, checks: OidcChecks): Promise<Actor>;
}

/**
 * OpenID Connect sign-in: the authorization code flow with PKCE (S256), `state` and `nonce`. The
 * provider's discovery document is fetched on first use; the ID token is verified again with jose
 * against the provider's JWKS (issuer, audience = our client id, nonce, algorithm allowlist), and the
 * roles come from its claims through the proxy's own claim mapping (`identity.rolesClaim`, ...).
 */
export function createOidcSignIn(oidc: OidcConfig, identity: Config['identity'], clock: Clock): OidcSignIn {
  const allowed = checkAlgorithms(identity.algorithms);
  const paths = { rolesClaim: identity.rolesClaim, nameClaim: identity.nameClaim, groupsClaim: identity.groupsClaim, serviceAccountClaim: identity.serviceAccountClaim };
  let discovered: Promise<{ config: client.Configuration; keys: ReturnType<typeof remoteKeys> }> | undefined;

  function discover() {
    discovered ??= (async () => {
      const issuer = new URL(oidc.issuer);
      // Plain HTTP is refused in production mode by the configuration schema; here it is a loopback test provider.
      const execute = issuer.protocol === 'http:' ? [client.allowInsecureRequests] : [];
      const auth = oidc.clientSecret === undefined ? client.None() : client.ClientSecretBasic(oidc.clientSecret);
      const config = await client.discovery(issuer, oidc.clientId, undefined, auth, { execute });
      const jwksUri = config.serverMetadata().jwks_uri;
      if (!jwksUri) throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', 'the provider publishes no jwks_uri');
      return { config, keys: remoteKeys(new URL(jwksUri)) };
    })().catch((err: unknown) => {
      discovered = undefined; // try again on the next sign-in
      throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', `the identity provider's discovery document could not be read: ${String(err)}`, { cause: err });
    });
    return discovered;
  }

  return {
    async start(redirectUri) {
      const { config } = await discover();
      const checks: OidcChecks = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: redirectUri,
        scope: oidc.scopes,
        response_type: 'code',
        code_challenge: await client.calculatePKCECodeChallenge(checks.codeVerifier),
        code_challenge_method: 'S256',
        state: checks.state,
        nonce: checks.nonce,
      });
      return { url: url.href, checks };
    },

    async finish(callbackUrl, checks) {
      const { config, keys } = await discover();
      try {
        const tokens = await client.authorizationCodeGrant(config, new URL(callbackUrl), {
          pkceCodeVerifier: checks.codeVerifier,
          expectedState: checks.state,
          expectedNonce: checks.nonce,
          idTokenExpected: true,
        });
        const idToken = tokens.id_token;
        if (idToken === undefined) throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', 'the provider returned no ID token');
        // The client library checks the token endpoint's answer; the signature is checked here too.
        const claims = await verifyCompactJwt(idToken, allowed, keys, {
          issuer: config.serverMetadata().issuer,
          audience: oidc.clientId,
          algorithms: [...allowed],
          clockTolerance: identity.leewaySeconds,
          currentDate: new Date(clock.now()),
          requiredClaims: ['sub', 'exp', 'nonce'],
        });
        if (claims.nonce !== checks.nonce) throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', 'the ID token is for another sign-in (nonce)');
        return actorFromClaims(claims, paths, 'oidc');
      } catch (err) {
        const error = asFlaggateError(err);
        if (err instanceof FlaggateError && (error.code === 'CONSOLE_SIGN_IN_FAILED' || error.code === 'IDENTIFY_CLAIMS_INVALID')) throw err;
        throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', `sign-in did not complete: ${failureText(err)}`, { cause: err });
      }
    },
  };
}

/**
 * Why a sign-in failed, in the words that say most: the provider's own (`invalid_grant: PKCE
 * verification failed`), else the library's message with the one beneath it, which names the claim
 * (`unexpected JWT "aud" (audience) claim value`).
 */
function failureText(err: unknown): string {
  if (err instanceof client.ResponseBodyError) return `${err.error}: ${err.error_description ?? ''}`;
  if (!(err instanceof Error)) return String(err);
  const inner = err.cause instanceof Error && err.cause.message !== err.message ? `: ${err.cause.message}` : '';
  const claim = [err.cause, err.cause instanceof Error ? err.cause.cause : undefined]
    .map((c) => (c as { claim?: unknown } | undefined)?.claim)
    .find((c): c is string => typeof c === 'string');
  return `${err.message}${inner}${claim ? ` (${claim})` : ''}`;
}
