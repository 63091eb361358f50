import { readFile } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createLocalJWKSet, createRemoteJWKSet, errors } from 'jose';
import type { CryptoKey, FlattenedJWSInput, JWSHeaderParameters } from 'jose';
import type { Config } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import type { AuthMethod } from './actor.js';
import { ensureDevIssuer } from './dev-issuer.js';

/** Resolves the verification key for a token's protected header. */
export type GetKey = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** The one trusted issuer: its name, audience, key resolver and how its tokens authenticate. */
export interface TrustedIssuer {
  issuer: string;
  audience: string;
  authMethod: AuthMethod;
  getKey: GetKey;
}

/** Remote key set fetching; operators' IdPs rotate keys, so unknown kids trigger a refetch after the cooldown. */
export const REMOTE_JWKS = { timeoutMs: 5_000, cooldownMs: 30_000, cacheMaxAgeMs: 10 * 60_000 } as const;

/**
 * The trusted issuer from configuration. One key source is used, in this order: `jwksUrl` (OIDC),
 * `jwksFile` (relative to dataDir), then the development issuer when `devIssuer` is true.
 */
export function trustedIssuer(identity: Config['identity'], dataDir: string): TrustedIssuer {
  const { issuer, audience } = identity;
  if (identity.jwksUrl !== undefined) {
    const timing = {
      cooldownMs: (identity.jwksCooldownSeconds ?? REMOTE_JWKS.cooldownMs / 1000) * 1000,
      cacheMaxAgeMs: (identity.jwksCacheMaxAgeSeconds ?? REMOTE_JWKS.cacheMaxAgeMs / 1000) * 1000,
    };
    return { issuer, audience, authMethod: 'oidc', getKey: remoteKeys(new URL(identity.jwksUrl), timing) };
  }
  if (identity.jwksFile !== undefined) {
    return { issuer, audience, authMethod: 'jwt', getKey: fileKeys(resolve(dataDir, identity.jwksFile)) };
  }
  if (identity.devIssuer) {
    return { issuer, audience, authMethod: 'dev-token', getKey: devIssuerKeys(dataDir) };
  }
  throw new TypeError('identity: set jwksUrl or jwksFile, or enable devIssuer');
}

/** A key set read from a JSON file once, on first use. */
export function fileKeys(path: string): GetKey {
  return localKeys(path, async () => JSON.parse(await readFile(path, 'utf8')));
}

/**
 * The development issuer's set: a kid it does not hold reloads it when `jwks.json` changed since
 * (`flaggate keys rotate --dev-issuer` on a running sidecar), so a rotation needs no restart.
 */
function devIssuerKeys(dataDir: string): GetKey {
  const file = join(dataDir, 'dev-issuer', 'jwks.json');
  const changedAt = () => (existsSync(file) ? statSync(file).mtimeMs : 0);
  let loadedAt = -1;
  let current: GetKey | undefined;
  const fresh = (): GetKey => {
    loadedAt = changedAt();
    current = localKeys(dataDir, async () => (await ensureDevIssuer(dataDir)).jwks);
    return current;
  };
  return async (header, token) => {
    try {
      return await (current ?? fresh())(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || changedAt() === loadedAt) throw err;
      return fresh()(header, token);
    }
  };
}

/** A key set loaded once on first use; a failed load is retried on the next token. */
function localKeys(source: string, load: () => Promise<unknown>): GetKey {
  let pending: Promise<ReturnType<typeof createLocalJWKSet>> | undefined;
  return async (header, token) => {
    pending ??= load().then((jwks) => createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]));
    let keys: ReturnType<typeof createLocalJWKSet>;
    try {
      keys = await pending;
    } catch (cause) {
      pending = undefined;
      throw new FlaggateError('IDENTIFY_JWKS_UNAVAILABLE', 'the trusted key set could not be loaded', {
        cause,
        details: { source },
      });
    }
    return keys(header, token);
  };
}

/**
 * A remote key set, cached for `cacheMaxAgeMs`; a kid not in the cache refetches the set, at most
 * once per `cooldownMs`, so a flood of tokens with made-up kids cannot hammer the issuer. A fetch
 * that fails, times out or returns no valid set is JWKS_UNAVAILABLE.
 */
export function remoteKeys(url: URL, timing: { cooldownMs: number; cacheMaxAgeMs: number } = REMOTE_JWKS): GetKey {
  const keys = createRemoteJWKSet(url, {
    timeoutDuration: REMOTE_JWKS.timeoutMs,
    cooldownDuration: timing.cooldownMs,
    cacheMaxAge: timing.cacheMaxAgeMs,
  });
  return async (header, token) => {
    try {
      return await keys(header, token);
    } catch (err) {
      // Key selection and import failures concern the token; the rest is the key set being unreachable.
      if (
        err instanceof errors.JWKSNoMatchingKey ||
        err instanceof errors.JWKSMultipleMatchingKeys ||
        err instanceof errors.JOSENotSupported ||
        err instanceof errors.JWKInvalid
      ) {
        throw err;
      }
      throw new FlaggateError('IDENTIFY_JWKS_UNAVAILABLE', 'the issuer key set could not be fetched', {
        cause: err,
        details: { url: url.origin + url.pathname },
      });
    }
  };
}
