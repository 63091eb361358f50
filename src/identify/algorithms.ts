/**
 * Asymmetric JWS algorithms the verifier may be configured with. Symmetric (HS*) and `none` are
 * never accepted: a shared secret would let any holder mint tokens, and HS* over a public key is the
 * classic algorithm-confusion forgery.
 */
const ASYMMETRIC = new Set([
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
]);

/** The configured allowlist, checked: anything but a known asymmetric algorithm is a configuration bug. */
export function checkAlgorithms(configured: readonly string[]): ReadonlySet<string> {
  if (configured.length === 0) throw new TypeError('identity.algorithms must not be empty');
  for (const alg of configured) {
    if (!ASYMMETRIC.has(alg)) {
      throw new TypeError(`identity.algorithms: ${JSON.stringify(alg)} is not an allowed asymmetric JWS algorithm`);
    }
  }
  return new Set(configured);
}
