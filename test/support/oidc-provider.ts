import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider, { errors } from 'oidc-provider';

export interface TestProvider {
  issuer: string;
  /**
   * The next answer of the token endpoint carries this ID token instead of the one it issued: a
   * token substituted on the way (e.g. one the provider issued to another client).
   */
  substituteNextIdToken(idToken: string): void;
  stop(): Promise<void>;
}

export interface TestProviderOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  /** Who may sign in (any password), with the claims their tokens carry. */
  people: Record<string, { name: string; roles: string[] }>;
  /** More clients registered at the provider (another application of the same organisation). */
  otherClients?: Array<{ clientId: string; clientSecret: string; redirectUri: string }>;
  /**
   * An API the provider issues JWT access tokens for (RFC 8707 resource indicator): requested with
   * `resource=<indicator>`, they carry `aud: audience`, the scope `flags`, and the person's `name`
   * and `roles`, as an identity provider set up for flaggate's proxy would issue them.
   */
  api?: { indicator: string; audience: string };
}

/**
 * A real OpenID provider (oidc-provider) on loopback: authorization code flow with PKCE required,
 * its development login and consent pages, ID tokens carrying `name` and `roles`.
 */
export async function startTestProvider(o: TestProviderOptions): Promise<TestProvider> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ clientId: o.clientId, clientSecret: o.clientSecret, redirectUri: o.redirectUri }, ...(o.otherClients ?? [])].map((c) => ({
      client_id: c.clientId,
      client_secret: c.clientSecret,
      redirect_uris: [c.redirectUri],
      response_types: ['code'],
      grant_types: ['authorization_code'],
    })),
    pkce: { required: () => true },
    scopes: ['openid', 'profile', 'roles'],
    claims: { openid: ['sub'], profile: ['name'], roles: ['roles'] },
    // The roles ride in the ID token itself, as many providers are configured to do.
    conformIdTokenClaims: false,
    features: {
      devInteractions: { enabled: true },
      ...(o.api && {
        resourceIndicators: {
          enabled: true,
          getResourceServerInfo: (_ctx: unknown, indicator: string) => {
            if (indicator !== o.api!.indicator) throw new errors.InvalidTarget();
            return { scope: 'flags', audience: o.api!.audience, accessTokenFormat: 'jwt' as const, jwt: { sign: { alg: 'RS256' as const } } };
          },
        },
      }),
    },
    extraTokenClaims: (_ctx: unknown, token: { accountId?: string }) => {
      const person = token.accountId === undefined ? undefined : o.people[token.accountId];
      return person && { name: person.name, roles: person.roles };
    },
    cookies: { keys: ['flaggate-test-provider'] },
    findAccount: (_ctx: unknown, sub: string) => {
      const person = o.people[sub];
      return person ? { accountId: sub, claims: () => ({ sub, name: person.name, roles: person.roles }) } : undefined;
    },
  });
  const handle = provider.callback();
  let substitute: string | undefined;
  server.on('request', (req, res) => {
    if (substitute !== undefined && req.method === 'POST' && req.url?.startsWith('/token')) {
      const idToken = substitute;
      substitute = undefined;
      const end = res.end.bind(res) as (chunk?: unknown) => typeof res;
      // The provider sets its headers and ends with the whole JSON body: rewrite it before it leaves.
      res.end = ((chunk?: unknown) => {
        const reply = JSON.parse(String(chunk)) as Record<string, unknown>;
        const body = JSON.stringify({ ...reply, id_token: idToken });
        res.setHeader('content-length', Buffer.byteLength(body));
        return end(body);
      }) as typeof res.end;
    }
    void handle(req, res);
  });
  return {
    issuer,
    substituteNextIdToken: (idToken) => {
      substitute = idToken;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A free loopback port, for a server whose URL must be known before it starts. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
