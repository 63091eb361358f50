/**
 * A stand-in for the Unleash admin API that answers instantly, so a benchmark can tell flaggate's
 * own cost apart from the platform's. It knows only the routes an enable/disable change touches:
 * GET /api/admin/projects/:project/features/:feature and
 * POST /api/admin/projects/:project/features/:feature/environments/:environment/on|off.
 * Run directly, it listens on 127.0.0.1 port 0 and prints `{"url": …}` on one line.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pathToFileURL } from 'node:url';

const ENVIRONMENTS = ['development', 'production'];
const FEATURE = /^\/api\/admin\/projects\/([^/]+)\/features\/([^/]+)$/;
const STRATEGY = { name: 'default', parameters: {}, constraints: [], segments: [], disabled: false };
const TOGGLE = /^\/api\/admin\/projects\/([^/]+)\/features\/([^/]+)\/environments\/([^/]+)\/(on|off)$/;

/** A listening stub platform. */
export interface PlatformStub {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the stub on 127.0.0.1, port 0. Every feature exists; its environments start disabled, each
 * with one active strategy (as Unleash leaves a flag it has switched on once: an environment without
 * one would have Unleash add the project's default strategy, which flaggate reads first).
 */
export async function startPlatformStub(): Promise<PlatformStub> {
  const enabled = new Map<string, boolean>();
  const server: Server = createServer((req, res) => {
    // Drain any body first: the routes below take none.
    req.resume();
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const toggle = req.method === 'POST' ? TOGGLE.exec(path) : null;
      if (toggle) {
        const [, , feature, environment, onOff] = toggle;
        enabled.set(`${feature}/${environment}`, onOff === 'on');
        res.writeHead(200).end();
        return;
      }
      const read = req.method === 'GET' ? FEATURE.exec(path) : null;
      if (read) {
        const [, project, feature] = read as unknown as [string, string, string];
        const name = decodeURIComponent(feature);
        // As Unleash 8.2 answers it: the environments' variants only when asked for (variantEnvironments=true).
        const withVariants = /[?&]variantEnvironments=true(&|$)/.test(req.url ?? '');
        const body = JSON.stringify({
          name,
          project: decodeURIComponent(project),
          type: 'release',
          stale: false,
          archived: false,
          createdAt: '2026-01-01T00:00:00.000Z',
          environments: ENVIRONMENTS.map((env) => ({ name: env, enabled: enabled.get(`${feature}/${env}`) === true, strategies: [{ ...STRATEGY, id: `${env}-1` }], ...(withVariants ? { variants: [] } : {}) })),
          dependencies: [],
          children: [],
        });
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"The path you were looking for is not available."}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const stub = await startPlatformStub();
  const stop = (): void => void stub.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdout.write(`${JSON.stringify({ url: stub.url })}\n`);
}
