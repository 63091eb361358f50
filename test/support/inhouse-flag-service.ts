/**
 * An in-house flag service, as a team might write one, for the REST mapping tests: plain node:http,
 * its own routes and shapes, an `X-Api-Key` credential. Nothing of flaggate's is used here.
 *
 *   GET    /api/flags                  all flags
 *   GET    /api/flags/{name}           one flag, or 404 {"error": "no such flag"}
 *   POST   /api/flags                  {"name": …} creates a flag, off everywhere
 *   PATCH  /api/flags/{name}?env=…     {"enabled": bool} in that environment
 *   DELETE /api/flags/{name}
 *   POST   /api/admin/keys             issues an API key (administration)
 *
 * `caseInsensitive`: names are looked up and kept unique without regard to case, as a store with a
 * case-insensitive collation does (`CHECKOUT` reads and writes `checkout`).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface InHouseFlag {
  name: string;
  environments: Record<string, { enabled: boolean }>;
}

export interface InHouseService {
  url: string;
  flags: Map<string, InHouseFlag>;
  /** Every request: method, URL and the credential it carried. */
  received: Array<{ method: string; url: string; apiKey: string | undefined; authorization: string | undefined }>;
  stop(): Promise<void>;
}

const ENVIRONMENTS = ['staging', 'production'];

export async function startInHouseService(apiKey: string, options: { caseInsensitive?: boolean } = {}): Promise<InHouseService> {
  const flags = new Map<string, InHouseFlag>();
  const id = (name: string) => (options.caseInsensitive ? name.toLowerCase() : name);
  const received: InHouseService['received'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method!, url: req.url!, apiKey: header(req, 'x-api-key'), authorization: header(req, 'authorization') });
      if (header(req, 'x-api-key') !== apiKey) return send(res, 401, { error: 'bad key' });
      let body: Record<string, unknown> = {};
      try {
        if (chunks.length > 0) body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        return send(res, 400, { error: 'bad json' });
      }
      route(req, res, body);
    });
  });

  function route(req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>): void {
    const url = new URL(req.url!, 'http://service');
    const one = /^\/api\/flags\/([^/]+)$/.exec(url.pathname);
    const flag = one ? flags.get(id(decodeURIComponent(one[1]!))) : undefined;
    if (req.method === 'GET' && url.pathname === '/api/flags') return send(res, 200, { flags: [...flags.values()] });
    if (req.method === 'POST' && url.pathname === '/api/flags') {
      const name = String(body.name);
      if (flags.has(id(name))) return send(res, 409, { error: 'exists' });
      const created = { name, environments: Object.fromEntries(ENVIRONMENTS.map((e) => [e, { enabled: false }])) };
      flags.set(id(name), created);
      return send(res, 201, created);
    }
    if (req.method === 'POST' && url.pathname === '/api/admin/keys') return send(res, 201, { key: 'new-admin-key' });
    if (!one) return send(res, 404, { error: 'no such route' });
    if (!flag) return send(res, 404, { error: 'no such flag' });
    if (req.method === 'GET') return send(res, 200, flag);
    if (req.method === 'DELETE') {
      flags.delete(id(flag.name));
      return send(res, 204, null);
    }
    if (req.method === 'PATCH') {
      const env = url.searchParams.get('env');
      if (!env || !flag.environments[env] || typeof body.enabled !== 'boolean') return send(res, 400, { error: 'env and enabled required' });
      flag.environments[env]!.enabled = body.enabled;
      return send(res, 200, flag);
    }
    send(res, 405, { error: 'method not allowed' });
  }

  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve, reject) => server.once('listening', resolve).once('error', reject));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    flags,
    received,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (body === null) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * The flaggate configuration that governs the in-house service from a YAML file: its credential,
 * its state read (the flag's environments), and its create, update and delete routes. `reads`
 * passes its two GET routes through; `keyPointer` holds the state read's answer to the flag asked for.
 */
export function inHouseConfigYaml(url: string, apiKey: string, options: { reads?: boolean; keyPointer?: boolean } = {}): string {
  return `
platform:
  name: rest
  targetUrl: ${url}
  targetToken: ${apiKey}
  rest:
    credentialHeader: X-Api-Key
    credentialFormat: "{token}"
${options.reads ? '    # In a [flow] list, a route with {…} is quoted: YAML reads a bare { there as a mapping.\n    reads: ["GET /api/flags", "GET /api/flags/{flag}"]\n' : ''}    state:
      route: GET /api/flags/{flag}
      pointer: /environments
${options.keyPointer ? '      keyPointer: /name\n' : ''}    writes:
      - route: POST /api/flags
        action: flag.create
        flagKey: body:/name
      - route: PATCH /api/flags/{flag}
        action: flag.update
        environment: query:env
      - route: DELETE /api/flags/{flag}
        action: flag.delete
`;
}
