import { CompactSign, compactVerify, createLocalJWKSet, errors, type JSONWebKeySet } from 'jose';
import { canonicalJson } from './canonical.js';
import type { Keyring } from './keyring.js';

/** What a checkpoint vouches for: the head of one chain at one time. */
export interface CheckpointClaims {
  chainId: string;
  seq: number;
  hash: string;
  time: string;
}

/** A checkpoint as stored, exported and replicated: the claims and their compact JWS. */
export interface Checkpoint extends CheckpointClaims {
  kid: string;
  jws: string;
}

const typ = 'flaggate-checkpoint+jws';

/** Signs a checkpoint with the keyring's active key (JWS, EdDSA/Ed25519, RFC 8785 payload). */
export async function signCheckpoint(claims: CheckpointClaims, keyring: Keyring): Promise<Checkpoint> {
  const { kid, key } = await keyring.active();
  const payload = new TextEncoder().encode(canonicalJson({ chainId: claims.chainId, seq: claims.seq, hash: claims.hash, time: claims.time }));
  const jws = await new CompactSign(payload).setProtectedHeader({ alg: 'EdDSA', kid, typ }).sign(key);
  return { ...claims, kid, jws };
}

export type CheckpointProblem = 'bad_signature' | 'unknown_key';

/**
 * Verifies a checkpoint's JWS against the given public keys and that its stored claims are the
 * signed ones. Returns the signed claims, or the problem: `unknown_key` when no key has its kid.
 */
export async function verifyCheckpoint(cp: Pick<Checkpoint, 'jws'> & Partial<CheckpointClaims>, keys: JSONWebKeySet): Promise<{ ok: true; claims: CheckpointClaims; kid: string } | { ok: false; problem: CheckpointProblem; message: string }> {
  let verified;
  try {
    verified = await compactVerify(cp.jws, createLocalJWKSet(keys), { algorithms: ['EdDSA'] });
  } catch (err) {
    if (err instanceof errors.JWKSNoMatchingKey) return { ok: false, problem: 'unknown_key', message: 'no published key has the checkpoint key id' };
    return { ok: false, problem: 'bad_signature', message: `the checkpoint signature does not verify: ${(err as Error).message}` };
  }
  if (verified.protectedHeader.typ !== typ) return { ok: false, problem: 'bad_signature', message: 'not a flaggate checkpoint' };
  let claims: CheckpointClaims;
  try {
    claims = JSON.parse(new TextDecoder().decode(verified.payload)) as CheckpointClaims;
  } catch {
    return { ok: false, problem: 'bad_signature', message: 'the checkpoint payload is not JSON' };
  }
  for (const key of ['chainId', 'seq', 'hash', 'time'] as const) {
    if (cp[key] !== undefined && cp[key] !== claims[key]) return { ok: false, problem: 'bad_signature', message: `the stored ${key} differs from the signed one` };
  }
  return { ok: true, claims, kid: String(verified.protectedHeader.kid) };
}
