import type { JWTPayload } from 'jose';
import { FlaggateError } from '../errors.js';
import type { Actor, AuthMethod } from './actor.js';

/** Where the actor's roles and display name sit in the verified claims. */
export interface ClaimPaths {
  /** Dotted path, e.g. `realm_access.roles`. */
  rolesClaim: string;
  nameClaim: string;
  /**
   * Dotted path of a groups claim; its names join the role names as `group:<name>` (the policy
   * maps both), so a group named like a role is not that role.
   */
  groupsClaim?: string | undefined;
  /** Dotted path of a claim that marks a service account when it is `true`. */
  serviceAccountClaim?: string | undefined;
}

/** The Actor described by a verified claims set; shapes the policy relies on are checked here. */
export function actorFromClaims(payload: JWTPayload, paths: ClaimPaths, authMethod: AuthMethod): Actor {
  const { sub } = payload;
  if (typeof sub !== 'string' || sub === '') throw invalid('sub', 'the sub claim must be a non-empty string');
  const rolesValue = claimAt(payload, paths.rolesClaim);
  const groupsValue = paths.groupsClaim === undefined ? undefined : claimAt(payload, paths.groupsClaim);
  // With a groups claim configured, a token may carry roles, groups or both; without one, roles are required.
  const roles = rolesValue === undefined && groupsValue !== undefined ? [] : rolesFrom(rolesValue, paths.rolesClaim);
  if (paths.groupsClaim !== undefined && roles.some((r) => r.startsWith(GROUP_PREFIX))) {
    throw invalid(paths.rolesClaim, `a name in the roles claim ${JSON.stringify(paths.rolesClaim)} starts with "${GROUP_PREFIX}", which marks the names of the groups claim`);
  }
  const groups = groupsValue === undefined ? [] : groupsFrom(groupsValue, paths.groupsClaim!);
  return {
    id: sub,
    displayName: nonEmptyString(claimAt(payload, paths.nameClaim)) ?? nonEmptyString(payload['preferred_username']) ?? sub,
    authMethod: isServiceAccount(payload, paths.serviceAccountClaim) ? 'client-credentials' : authMethod,
    roles: [...new Set([...roles, ...groups])],
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

/**
 * A client-credentials token: the configured claim is `true`, or the token says so in one of the
 * shapes IdPs use: `gty: client-credentials` (Auth0), a client id claim equal to `sub` (Okta `cid`,
 * `client_id`), or Keycloak's `service-account-` username.
 */
export function isServiceAccount(payload: Record<string, unknown>, claim: string | undefined): boolean {
  if (claim !== undefined) return claimAt(payload, claim) === true;
  if (payload['gty'] === 'client-credentials') return true;
  const sub = payload['sub'];
  if (['client_id', 'cid', 'azp'].some((c) => typeof payload[c] === 'string' && payload[c] === sub)) return true;
  const username = payload['preferred_username'];
  return typeof username === 'string' && username.startsWith('service-account-');
}

/**
 * What a group name is prefixed with among the roles. Group membership is often self-service (a
 * user creates a group, or joins one), role assignment is not: unprefixed, a group named
 * `flag_admin` would be the role `flag_admin`. The policy's role_mapping maps `group:<name>`.
 */
export const GROUP_PREFIX = 'group:';

/** A groups claim's names, prefixed: a list of names, or one name as a string (a group name may hold spaces). */
function groupsFrom(value: unknown, path: string): string[] {
  const names = typeof value === 'string' && value !== '' ? [value] : rolesFrom(value, path);
  return names.map((name) => GROUP_PREFIX + name);
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
