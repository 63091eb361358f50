/**
 * A private, throw-away PostgreSQL cluster for tests: its own temp dir, trust auth on loopback only,
 * a free 127.0.0.1 port, fsync off. PostgreSQL refuses to run as root, so under root every server
 * binary runs as the `postgres` user. A detached watchdog stops the cluster if the test process dies
 * without cleaning up (SIGKILL included); a normal exit stops it synchronously.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { grantChainWriter, migrateDatabase } from '../../src/db-admin.js';

const run = promisify(execFile);

/** A running (or stopped) private cluster. */
export interface PgCluster {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:PORT/DB` (default database `postgres`). */
  url(dbName?: string): string;
  /** Creates a database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Starts the cluster again after a stop, on the same port and data dir. */
  start(): Promise<void>;
  /** Fast shutdown, then removes the temp dir; idempotent. */
  stop(): Promise<void>;
  /** `pg_ctl stop -m immediate`: a crash-like stop that keeps the data dir for a later `start()`. */
  stopImmediate(): Promise<void>;
}

const live = new Set<() => void>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const stopSync of live) stopSync();
  });
}

/** The directory holding initdb, pg_ctl and postgres (FLAGGATE_PG_BIN overrides). */
export function findPgBin(): string {
  const candidates = [
    process.env.FLAGGATE_PG_BIN,
    '/usr/lib/postgresql/17/bin',
    '/usr/lib/postgresql/16/bin',
    '/usr/lib/postgresql/15/bin',
    ...(process.env.PATH ?? '').split(':'),
  ];
  for (const dir of candidates) {
    if (dir && ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)))) return dir;
  }
  throw new Error('PostgreSQL server binaries (initdb, pg_ctl, postgres) not found; run scripts/setup-test-env.sh');
}

/** A loopback port that was free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * `start` on a port found free, tried again on another (three tries in all) when `taken` says the
 * port was gone by the time the server bound it: it is found free, then handed over, and another
 * process can take it in between (a test's outgoing connections draw from the same ephemeral range).
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, taken: (err: unknown) => boolean): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freePort());
    } catch (err) {
      if (attempt >= 3 || !taken(err)) throw err;
    }
  }
}

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

/** argv that runs `bin` as the cluster owner. */
function ownerArgv(bin: string, args: string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
}

async function runOwner(bin: string, args: string[]): Promise<void> {
  const [cmd, argv] = ownerArgv(bin, args);
  try {
    await run(cmd, argv, { timeout: 120_000 });
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`${bin} ${args.join(' ')} failed: ${e.stderr ?? ''}${e.stdout ?? ''}`, { cause: err });
  }
}

/**
 * Starts a new private cluster. Tests skip its flushes (fsync and synchronous_commit off);
 * `durable: true` keeps PostgreSQL's defaults, for measurements of the real configuration.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<PgCluster> {
  const binDir = findPgBin();
  const pgCtl = join(binDir, 'pg_ctl');
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  if (asRoot) chownSync(dir, uidOf('postgres'), gidOf('postgres'));

  await runOwner(join(binDir, 'initdb'), [
    '-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '--encoding=UTF8', '--locale=C',
  ]);
  // Only the socket in our own dir and 127.0.0.1 are ever trusted.
  writeFileSync(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
  if (asRoot) chownSync(join(data, 'pg_hba.conf'), uidOf('postgres'), gidOf('postgres'));

  let port = 0;
  const serverOpts = (): string => [
    `-k ${dir}`, '-h 127.0.0.1', `-p ${port}`,
    ...(options.durable ? ['-c fsync=on', '-c synchronous_commit=on', '-c full_page_writes=on'] : ['-c fsync=off', '-c synchronous_commit=off', '-c full_page_writes=off']),
    '-c max_connections=200',
  ].join(' ');

  let running = false;
  let removed = false;
  const watchdog = startWatchdog(process.pid, pgCtl, data, dir);

  const stopSync = (): void => {
    if (running) {
      const [cmd, argv] = ownerArgv(pgCtl, ['-D', data, 'stop', '-m', 'immediate', '-w']);
      spawnSync(cmd, argv, { stdio: 'ignore', timeout: 30_000 });
      running = false;
    }
    if (watchdog.pid !== undefined && watchdog.exitCode === null) {
      try {
        process.kill(watchdog.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (!removed) {
      rmSync(dir, { recursive: true, force: true });
      removed = true;
    }
    live.delete(stopSync);
  };

  const start = async (): Promise<void> => {
    if (running) return;
    await runOwner(pgCtl, ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', serverOpts(), 'start']);
    running = true;
  };

  const stopWith = async (mode: 'fast' | 'immediate'): Promise<void> => {
    if (!running) return;
    await runOwner(pgCtl, ['-D', data, 'stop', '-m', mode, '-w', '-t', '60']);
    running = false;
  };

  // A first start that could not bind is tried on another port, judged by what this attempt added
  // to the log; later starts keep the cluster's port.
  const logText = (): string => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : '');
  let logBefore = 0;
  await onFreePort(
    async (free) => {
      port = free;
      logBefore = logText().length;
      await start();
    },
    () => logText().slice(logBefore).includes('could not bind'),
  );
  installExitHook();
  live.add(stopSync);

  const url = (dbName = 'postgres'): string => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(dbName)}`;

  return {
    port,
    url,
    async createDatabase(name: string): Promise<string> {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new TypeError(`database name not allowed: ${name}`);
      const client = new pg.Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    start,
    async stop(): Promise<void> {
      await stopWith('fast');
      stopSync();
    },
    stopImmediate: () => stopWith('immediate'),
  };
}

/**
 * A detached shell that waits for `parentPid` to disappear, then stops the cluster and removes its dir.
 * It only ever touches the cluster whose data dir it was given.
 */
function startWatchdog(parentPid: number, pgCtl: string, data: string, dir: string): ChildProcess {
  const q = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;
  const stop = asRoot
    ? `runuser -u postgres -- ${q(pgCtl)} -D ${q(data)} stop -m immediate -w`
    : `${q(pgCtl)} -D ${q(data)} stop -m immediate -w`;
  const script = `while kill -0 ${parentPid} 2>/dev/null; do sleep 1; done; ${stop} >/dev/null 2>&1; rm -rf ${q(dir)}`;
  const child = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child;
}

function idOf(flag: '-u' | '-g', user: string): number {
  const out = spawnSync('id', [flag, user], { encoding: 'utf8' });
  const n = Number.parseInt(out.stdout, 10);
  if (!Number.isInteger(n)) throw new Error(`no such user: ${user}`);
  return n;
}
const uidOf = (user: string): number => idOf('-u', user);
const gidOf = (user: string): number => idOf('-g', user);

/** A migrated flaggate database: the owner's URL, and one login URL per registered chain writer. */
export interface LedgerDatabase {
  /** The schema owner (the cluster superuser): migrations, and edits behind the triggers. */
  ownerUrl: string;
  /** The login of the role registered to write `chainId` (created on first use). */
  writerUrl(chainId: string): Promise<string>;
}

/**
 * Creates a database, runs `flaggate db migrate` on it as the owner, and registers a login role per
 * chain the way an administrator does (`flaggate db grant`), so sidecars connect as their own role.
 */
export async function createLedgerDatabase(cluster: PgCluster, name: string): Promise<LedgerDatabase> {
  const ownerUrl = await cluster.createDatabase(name);
  await migrateDatabase(ownerUrl);
  const urls = new Map<string, Promise<string>>();
  return {
    ownerUrl,
    writerUrl(chainId) {
      let url = urls.get(chainId);
      if (!url) {
        url = registerWriter(ownerUrl, chainId);
        urls.set(chainId, url);
      }
      return url;
    },
  };
}

/** Creates (once per cluster) a plain login role for `chainId` and registers it as the chain's writer. */
export async function registerWriter(ownerUrl: string, chainId: string): Promise<string> {
  const role = `fg_${chainId.toLowerCase().replace(/[^a-z0-9]/g, '_')}`;
  const admin = new pg.Client({ connectionString: ownerUrl });
  await admin.connect();
  try {
    await admin.query(`DO $$ BEGIN CREATE ROLE ${role} LOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$`);
  } finally {
    await admin.end();
  }
  await grantChainWriter(ownerUrl, { chainId, role });
  return ownerUrl.replace('postgres@', `${role}@`);
}
