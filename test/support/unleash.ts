/**
 * A real Unleash server (the version pinned in test/support/unleash-server/package.json) for tests,
 * in a child Node process, on a fresh database of a cluster from `startPostgres()`, seeded with one
 * admin API token. Stopped by PID: SIGTERM, then SIGKILL after a timeout; also on process exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { onFreePort } from './postgres.js';

const serverDir = join(dirname(fileURLToPath(import.meta.url)), 'unleash-server');

/** A running Unleash server. */
export interface UnleashServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string;
  /** An admin API token, `*:*.<secret>`, sent as the raw `Authorization` header value. */
  readonly adminToken: string;
  /** The server's own database, for a test that must store what the API no longer writes (a legacy row). */
  readonly databaseUrl: string;
  readonly pid: number;
  /** The last 50 warnings the server printed (one is a change's event it failed to store). */
  warnings(): string[];
  /** Idempotent. */
  stop(): Promise<void>;
}

export interface StartUnleashOptions {
  /** Any database URL on the cluster; a fresh database is created next to it for this server. */
  databaseUrl: string;
  /** How long the first start (schema migration included) may take. */
  startTimeoutMs?: number;
  /** Extra environment for the server, e.g. Unleash's rate limits. */
  env?: Record<string, string>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const child of live) killQuietly(child, 'SIGKILL');
  });
}

function killQuietly(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

let dbCounter = 0;

async function createFreshDatabase(databaseUrl: string): Promise<string> {
  const name = `unleash_${process.pid}_${++dbCounter}_${randomBytes(3).toString('hex')}`;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const u = new URL(databaseUrl);
  u.pathname = `/${name}`;
  return u.toString();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Starts Unleash and resolves once `/health` is 200 and the admin token is accepted. The port is
 * found free and then handed to Unleash, so another process can take it in between (a test's
 * outgoing connections draw from the same ephemeral range): a start that fails with EADDRINUSE is
 * tried again on another port.
 */
export async function startUnleash(opts: StartUnleashOptions): Promise<UnleashServer> {
  const databaseUrl = await createFreshDatabase(opts.databaseUrl);
  return onFreePort((port) => startUnleashOn(port, databaseUrl, opts), (err) => (err as Error).message.includes('EADDRINUSE'));
}

async function startUnleashOn(port: number, databaseUrl: string, opts: StartUnleashOptions): Promise<UnleashServer> {
  const adminToken = `*:*.${randomBytes(24).toString('hex')}`;
  const url = `http://127.0.0.1:${port}`;

  const child = spawn(process.execPath, [join(serverDir, 'start.mjs')], {
    cwd: serverDir,
    env: {
      ...process.env,
      FLAGGATE_UNLEASH_DATABASE_URL: databaseUrl,
      FLAGGATE_UNLEASH_PORT: String(port),
      FLAGGATE_UNLEASH_ADMIN_TOKEN: adminToken,
      FLAGGATE_UNLEASH_PARENT_PID: String(process.pid),
      SEND_TELEMETRY: 'false',
      CHECK_VERSION: 'false',
      NODE_ENV: 'production',
      TZ: 'UTC',
      ...opts.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('could not spawn the Unleash server');
  installExitHook();
  live.add(child);

  // Keep the tail of its output for the error message if it never becomes ready, and its warnings.
  let output = '';
  const warnings: string[] = [];
  const keep = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    output = (output + text).slice(-8000);
    for (const line of text.split('\n')) if (line.startsWith('[unleash warn]')) warnings.push(line.slice(0, 2000));
    warnings.splice(0, Math.max(0, warnings.length - 50));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => live.delete(child), () => undefined);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    killQuietly(child, 'SIGTERM');
    const timer = setTimeout(() => killQuietly(child, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await waitUntilReady(url, adminToken, child, opts.startTimeoutMs ?? 150_000);
  } catch (err) {
    await stop();
    throw new Error(`Unleash did not become ready: ${(err as Error).message}\n${output}`, { cause: err });
  }
  return { url, adminToken, databaseUrl, pid: child.pid, warnings: () => [...warnings], stop };
}

async function waitUntilReady(url: string, token: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the server exited (${child.exitCode ?? child.signalCode})`);
    }
    try {
      const health = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      if (health.status === 200) {
        await assertEnvironmentsReady(url, token);
        return;
      }
    } catch (err) {
      if (err instanceof ReadinessError) throw err;
      // not listening yet
    }
    await sleep(250);
  }
  throw new Error(`no healthy answer within ${timeoutMs} ms`);
}

class ReadinessError extends Error {}

/** The admin token works, and `development` and `production` are enabled on the `default` project. */
async function assertEnvironmentsReady(url: string, token: string): Promise<void> {
  const res = await fetch(`${url}/api/admin/projects/default/overview`, { headers: { authorization: token } });
  if (res.status !== 200) throw new ReadinessError(`admin token rejected: ${res.status} ${await res.text()}`);
  const overview = (await res.json()) as { environments?: { environment: string }[] };
  const envRes = await fetch(`${url}/api/admin/environments`, { headers: { authorization: token } });
  const { environments } = (await envRes.json()) as { environments: { name: string; enabled: boolean }[] };
  for (const name of ['development', 'production']) {
    const onProject = overview.environments?.some((e) => e.environment === name);
    const enabled = environments.some((e) => e.name === name && e.enabled);
    if (!onProject || !enabled) throw new ReadinessError(`environment ${name} is not enabled on project default`);
  }
}

/** Unleash's admin API called directly with its admin token: the ground truth, bypassing flaggate. */
export async function unleashAdmin(server: UnleashServer, method: string, path: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(server.url + path, {
    method,
    headers: { authorization: server.adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

/** Whether a feature of the default project is enabled in an environment, read from Unleash itself. */
export async function unleashEnabledIn(server: UnleashServer, feature: string, environment: string): Promise<boolean> {
  const state = await unleashAdmin(server, 'GET', `/api/admin/projects/default/features/${feature}`);
  return (state.environments as Array<{ name: string; enabled: boolean }>).find((e) => e.name === environment)!.enabled;
}

/**
 * A personal access token of a new Unleash administrator: Unleash refuses imports made with an admin
 * API token, so a sidecar that forwards imports holds one of these. The user is created with the
 * admin token, signs in with a password, and mints the token from that session.
 */
export async function unleashPersonalToken(server: UnleashServer, email = 'importer@example.com'): Promise<string> {
  const password = `Pw-${randomBytes(12).toString('hex')}!`;
  await unleashAdmin(server, 'POST', '/api/admin/user-admin', { email, name: 'importer', password, rootRole: 1, sendEmail: false });
  const login = await fetch(`${server.url}/auth/simple/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: email, password }) });
  if (login.status !== 200) throw new Error(`login: ${login.status} ${await login.text()}`);
  const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
  // Unleash may answer the login before its session is stored: a 401 right after it is asked again.
  for (let attempt = 1; ; attempt += 1) {
    const res = await fetch(`${server.url}/api/admin/user/tokens`, {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ description: 'flaggate imports', expiresAt }),
    });
    if (res.status === 201) return ((await res.json()) as { secret: string }).secret;
    if (res.status !== 401 || attempt === 5) throw new Error(`personal token: ${res.status} ${await res.text()}`);
    await res.text();
    await new Promise((r) => setTimeout(r, 200 * attempt));
  }
}
