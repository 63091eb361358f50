import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { JWK } from 'jose';
import type { Config } from '../config/index.js';
import { bundleSignatureAlgorithms } from '../config/index.js';
import { FlaggateError } from '../errors.js';

export type BundleSignatureAlgorithm = (typeof bundleSignatureAlgorithms)[number];

/** One pinned bundle-signing key, as OPA's `keys.<id>`: the key, its one algorithm, its scope. */
export interface VerificationKey {
  keyId: string;
  algorithm: BundleSignatureAlgorithm;
  key: KeyObject;
  scope?: string;
  notAfter?: Date;
}

/** What a bundle must verify against (OPA's bundle `signing` verification config). */
export interface BundleTrust {
  keys: ReadonlyMap<string, VerificationKey>;
  /** Required `scope` for keys that set none. */
  scope?: string;
  /** `filepath.Match` patterns of bundle paths left unverified. */
  exclude: readonly string[];
}

type PolicyConfig = Config['policy'];

function keyError(file: string, message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('CONFIG_INVALID', `policy.verificationKey: ${file}: ${message}`, cause === undefined ? {} : { cause });
}

function isAllowed(alg: unknown): alg is BundleSignatureAlgorithm {
  return typeof alg === 'string' && (bundleSignatureAlgorithms as readonly string[]).includes(alg);
}

/** The algorithm a bare PEM key implies: OPA's default RS256 for RSA, the curve's for EC, EdDSA for Ed25519. */
function impliedAlgorithm(key: KeyObject): BundleSignatureAlgorithm | undefined {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return 'RS256';
    case 'rsa-pss':
      return 'PS256';
    case 'ed25519':
      return 'EdDSA';
    case 'ec':
      return curve === 'prime256v1' ? 'ES256' : curve === 'secp384r1' ? 'ES384' : curve === 'secp521r1' ? 'ES512' : undefined;
    default:
      return undefined;
  }
}

function readPem(file: string, text: string, entry: { keyId: string; algorithm?: BundleSignatureAlgorithm; scope?: string; notAfter?: string }): VerificationKey {
  // A private key would verify too (its public half), but it has no business on a verifying host.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw keyError(file, 'holds a private key; give the public key');
  let key: KeyObject;
  try {
    key = createPublicKey(text);
  } catch (err) {
    throw keyError(file, 'not a PEM public key', err);
  }
  const algorithm = entry.algorithm ?? impliedAlgorithm(key);
  if (!algorithm) throw keyError(file, `no bundle algorithm for a ${key.asymmetricKeyType} key`);
  return withOptional({ keyId: entry.keyId, algorithm, key }, entry);
}

function readJwks(file: string, json: unknown, entry: { scope?: string; notAfter?: string }): VerificationKey[] {
  const keys = typeof json === 'object' && json !== null && 'keys' in json ? json.keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) throw keyError(file, 'a JWKS needs a non-empty "keys" array');
  const out: VerificationKey[] = [];
  for (const jwk of keys as JWK[]) {
    const kid = jwk?.kid;
    if (typeof kid !== 'string' || kid === '') throw keyError(file, 'every key needs a "kid"');
    // The key's own alg pins it: a signature's header never chooses how it is checked.
    if (!isAllowed(jwk.alg)) throw keyError(file, `key ${kid}: "alg" must be one of ${bundleSignatureAlgorithms.join(', ')}`);
    if (jwk.kty === 'oct' || 'd' in jwk) throw keyError(file, `key ${kid}: only public keys verify bundles`);
    if (jwk.use !== undefined && jwk.use !== 'sig') throw keyError(file, `key ${kid}: "use" is not "sig"`);
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    } catch (err) {
      throw keyError(file, `key ${kid}: cannot be imported`, err);
    }
    const exp = (jwk as { exp?: unknown }).exp;
    const notAfter = typeof exp === 'number' ? new Date(exp * 1000).toISOString() : entry.notAfter;
    out.push(withOptional({ keyId: kid, algorithm: jwk.alg, key }, { ...entry, ...(notAfter ? { notAfter } : {}) }));
  }
  return out;
}

function withOptional(k: VerificationKey, entry: { scope?: string; notAfter?: string }): VerificationKey {
  if (entry.scope !== undefined) k.scope = entry.scope;
  if (entry.notAfter !== undefined) k.notAfter = new Date(entry.notAfter);
  return k;
}

/**
 * Reads the pinned bundle keys of `policy.verificationKey`. Undefined when none is configured, which
 * only development mode accepts: in production a start-up without a key fails with CONFIG_INVALID.
 */
export async function loadBundleTrust(policy: PolicyConfig, mode: Config['mode']): Promise<BundleTrust | undefined> {
  const entries = policy.verificationKey ?? [];
  if (entries.length === 0) {
    if (mode === 'production') {
      throw new FlaggateError('CONFIG_INVALID', 'policy.verificationKey: production mode loads only signed bundles; pin the signing key (PEM or JWKS)');
    }
    return undefined;
  }
  const bare = entries.filter((e) => typeof e === 'string');
  const keys = new Map<string, VerificationKey>();
  for (const e of entries) {
    const entry = typeof e === 'string' ? { file: e } : e;
    let text: string;
    try {
      text = readFileSync(entry.file, 'utf8');
    } catch (err) {
      throw keyError(entry.file, 'cannot be read', err);
    }
    let found: VerificationKey[];
    if (text.trimStart().startsWith('{')) {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        throw keyError(entry.file, 'not JSON', err);
      }
      found = readJwks(entry.file, json, entry);
    } else {
      const keyId = typeof e === 'string' ? (bare.length === 1 ? policy.verificationKeyId : undefined) : (e.keyId ?? policy.verificationKeyId);
      if (!keyId) throw keyError(entry.file, 'several PEM files need a keyId each: list them as { file, keyId }');
      found = [readPem(entry.file, text, { ...entry, keyId })];
    }
    for (const k of found) {
      if (keys.has(k.keyId)) throw keyError(entry.file, `key id ${k.keyId} is pinned twice`);
      keys.set(k.keyId, k);
    }
  }
  return { keys, exclude: policy.verificationExclude, ...(policy.verificationScope ? { scope: policy.verificationScope } : {}) };
}
