/**
 * PgBouncer in transaction mode in front of a test cluster, on a free 127.0.0.1 port: server
 * sessions go from client to client between transactions, as in many production deployments.
 * Debian's pgbouncer (scripts/setup-test-env.sh installs it when root); `findPgBouncer` says
 * whether it is there. The server runs under a shell that ends it when this process is gone
 * (SIGKILL included); `stop` ends both.
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './postgres.js';

export function findPgBouncer(): string | undefined {
  return ['/usr/sbin/pgbouncer', '/usr/bin/pgbouncer'].find((p) => existsSync(p));
}

export interface PgBouncer {
  /** `postgres://postgres@127.0.0.1:PORT/<database>` through the pooler. */
  url: string;
  stop(): Promise<void>;
}

/** Pools `database` of the cluster on `serverPort` in transaction mode, `poolSize` server sessions. */
export async function startPgBouncer(serverPort: number, database: string, poolSize = 2): Promise<PgBouncer> {
  const bin = findPgBouncer();
  if (!bin) throw new Error('pgbouncer not installed; run scripts/setup-test-env.sh as root');
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-pgbouncer-'));
  // pgbouncer refuses to run as root: it runs as postgres, which must read its files.
  chmodSync(dir, 0o755);
  const port = await freePort();
  writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
  writeFileSync(
    join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `${database} = host=127.0.0.1 port=${serverPort} dbname=${database} user=postgres`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${join(dir, 'users.txt')}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'logfile = /dev/null',
      '',
    ].join('\n'),
  );
  const asRoot = process.getuid?.() === 0;
  const server = `${bin} ${asRoot ? '-u postgres ' : ''}${join(dir, 'pgbouncer.ini')}`;
  const child = spawn('sh', ['-c', `${server} & pid=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $pid 2>/dev/null; do sleep 1; done; kill $pid 2>/dev/null`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    // The server is the shell's child; the shell's loop ends once the server is gone.
    spawnSync('pkill', ['-TERM', '-P', String(child.pid)], { stdio: 'ignore' });
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  await waitForPort(port).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { url: `postgres://postgres@127.0.0.1:${port}/${database}`, stop };
}

async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => (socket.end(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > until) throw new Error(`pgbouncer did not listen on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
