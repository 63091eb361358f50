/**
 * How the actor proved who they are. `client-credentials` marks a service account (a pipeline's
 * OAuth client, no person behind it), whatever key set verified its token.
 */
export type AuthMethod = 'jwt' | 'oidc' | 'dev-token' | 'client-credentials' | 'none';

/** Who an attempt is recorded as when its token did not verify: nobody the sidecar can name. */
export const unauthenticatedActor: Actor = { id: 'unauthenticated', displayName: 'unauthenticated', authMethod: 'none', roles: [], claims: {} };

/** The identified caller: what every later stage knows about who asked. */
export interface Actor {
  id: string;
  displayName: string;
  authMethod: AuthMethod;
  roles: string[];
  /** The verified token's claims, for policy input; never forwarded. */
  claims: Record<string, unknown>;
}
