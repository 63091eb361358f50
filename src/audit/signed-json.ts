import { CompactSign, compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from 'jose';
import { canonicalJson } from './canonical.js';
import type { Keyring } from './keyring.js';

/** Signs a JSON value (RFC 8785 payload) as a compact JWS with the keyring's active Ed25519 key. */
export async function signJson(value: unknown, typ: string, keyring: Keyring): Promise<{ jws: string; kid: string }> {
  const { kid, key } = await keyring.active();
  const jws = await new CompactSign(new TextEncoder().encode(canonicalJson(value))).setProtectedHeader({ alg: 'EdDSA', kid, typ }).sign(key);
  return { jws, kid };
}

export type SignatureProblem = 'bad_signature' | 'unknown_key';

/** Verifies a JWS made by `signJson` with the given public keys; returns the signed value or the problem. */
export async function verifyJson(
  jws: string,
  typ: string,
  keys: JSONWebKeySet,
): Promise<{ ok: true; value: unknown; kid: string } | { ok: false; problem: SignatureProblem; message: string }> {
  let verified;
  try {
    verified = await compactVerify(jws, createLocalJWKSet(keys), { algorithms: ['EdDSA'] });
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) return { ok: false, problem: 'unknown_key', message: 'no published key has the signing key id' };
    return { ok: false, problem: 'bad_signature', message: `the signature does not verify: ${(err as Error).message}` };
  }
  if (verified.protectedHeader.typ !== typ) return { ok: false, problem: 'bad_signature', message: `not a ${typ}` };
  try {
    return { ok: true, value: JSON.parse(new TextDecoder().decode(verified.payload)) as unknown, kid: String(verified.protectedHeader.kid) };
  } catch {
    return { ok: false, problem: 'bad_signature', message: 'the signed payload is not JSON' };
  }
}
