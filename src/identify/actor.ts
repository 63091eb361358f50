/** How the actor proved who they are. */
export type AuthMethod = 'jwt' | 'oidc' | 'dev-token';

/** The identified caller: what every later stage knows about who asked. */
export interface Actor {
  id: string;
  displayName: string;
  authMethod: AuthMethod;
  roles: string[];
  /** The verified token's claims, for policy input; never forwarded. */
  claims: Record<string, unknown>;
}
