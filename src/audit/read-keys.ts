import { existsSync, readFileSync } from 'node:fs';
import type { JSONWebKeySet, JWK } from 'jose';
import { FlaggateError } from '../errors.js';

/**
 * Reads checkpoint public keys from a JWKS file or a keyring.json; a missing file is an empty set
 * (every checkpoint then reports `unknown_key`). Private key members are never accepted here.
 */
export function readKeys(path: string): JSONWebKeySet {
  if (!existsSync(path)) return { keys: [] };
  let parsed: { keys?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as { keys?: unknown };
  } catch (cause) {
    throw new FlaggateError('CONFIG_INVALID', `${path} is not JSON`, { cause });
  }
  if (!Array.isArray(parsed.keys)) throw new FlaggateError('CONFIG_INVALID', `${path} has no "keys" array`);
  const keys = parsed.keys.map((k: unknown) => ((k as { public?: JWK }).public ?? k) as JWK);
  if (keys.some((k) => typeof k !== 'object' || k === null || 'd' in k)) throw new FlaggateError('CONFIG_INVALID', `${path}: keys must be public JWKs`);
  return { keys };
}
