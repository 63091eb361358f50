import type { JSONWebKeySet } from 'jose';
import type { Keyring } from './keyring.js';
import { signJson, verifyJson, type SignatureProblem } from './signed-json.js';

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
  const { jws, kid } = await signJson({ chainId: claims.chainId, seq: claims.seq, hash: claims.hash, time: claims.time }, typ, keyring);
  return { ...claims, kid, jws };
}

export type CheckpointProblem = SignatureProblem;

/**
 * Verifies a checkpoint's JWS against the given public keys and that its stored claims are the
 * signed ones. Returns the signed claims, or the problem: `unknown_key` when no key has its kid.
 */
export async function verifyCheckpoint(
  cp: Pick<Checkpoint, 'jws'> & Partial<CheckpointClaims>,
  keys: JSONWebKeySet,
): Promise<{ ok: true; claims: CheckpointClaims; kid: string } | { ok: false; problem: CheckpointProblem; message: string }> {
  const verified = await verifyJson(cp.jws, typ, keys);
  if (!verified.ok) return verified;
  const claims = verified.value as CheckpointClaims;
  for (const key of ['chainId', 'seq', 'hash', 'time'] as const) {
    if (cp[key] !== undefined && cp[key] !== claims[key]) return { ok: false, problem: 'bad_signature', message: `the stored ${key} differs from the signed one` };
  }
  return { ok: true, claims, kid: verified.kid };
}
