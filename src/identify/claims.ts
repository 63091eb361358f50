import type { JWTPayload } from 'jose';
import { FlaggateError } from '../errors.js';
import type { Actor, AuthMethod } from './actor.js';

/** Where the actor's roles and display name sit in the verified claims. */
export interface ClaimPaths {
  /** Dotted path, e.g. `realm_access.roles`. */
  rolesClaim: string;
  nameClaim: string;
}

/** The Actor described by a verified claims set; shapes the policy relies on are checked here. */
export function actorFromClaims(payload: JWTPayload, paths: ClaimPaths, authMethod: AuthMethod): Actor {
  const { sub } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalid('sub', 'the sub claim must be a non-empty string');
  return {
    id: sub,
    displayName: nonEmptyString(claimAt(payload, paths.nameClaim)) ?? nonEmptyString(payload['preferred_username']) ?? sub,
    authMethod,
    roles: rolesFrom(claimAt(payload, paths.rolesClaim), paths.rolesClaim),
    // A copy of the claims, never the token itself: later stages must not be able to replay it.
    claims: structuredClone(payload) as Record<string, unknown>,
  };
}

/** Follows a dotted path through own properties of plain objects only. */
export function claimAt(payload: Record<string, unknown>, path: string): unknown {
  let node: unknown = payload;
  for (const step of path.split('.')) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, step)) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

function rolesFrom(value: unknown, path: string): string[] {
  let roles: string[];
  if (typeof value === 'string') {
    roles = value.split(/\s+/).filter((r) => r !== '');
  } else if (Array.isArray(value) && value.every((r): r is string => typeof r === 'string' && r !== '')) {
    roles = value;
  } else {
    const why = value === undefined ? 'is missing' : 'must be an array of strings or a space-separated string';
    throw invalid(path, `the roles claim ${JSON.stringify(path)} ${why}`);
  }
  return [...new Set(roles)];
}

function nonEmptyString(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function invalid(claim: string, message: string): FlaggateError {
  return new FlaggateError('IDENTIFY_CLAIMS_INVALID', message, { details: { claim } });
}
