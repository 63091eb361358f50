/**
 * A throw-away single-node OpenSearch for tests: the distribution scripts/install-opensearch.sh put
 * under .tools/, a private config, data and log dir in a temp dir, a free loopback port, 512 MB heap.
 * OpenSearch refuses to run as root, so under root it runs as the `opensearch` system user that
 * scripts/setup-test-env.sh creates. The node is killed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort } from './postgres.js';

export const OPENSEARCH_VERSION = '2.19.6';
const home = join(import.meta.dirname, '..', '..', '.tools', `opensearch-${OPENSEARCH_VERSION}`);
const runUser = 'opensearch';
const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export interface OpenSearchNode {
  readonly url: string;
  readonly pid: number;
  /** SIGSTOP: the node keeps its sockets but answers nothing, as a hung or partitioned server does. */
  pause(): void;
  /** SIGCONT after `pause`. */
  resume(): void;
  /** Kills the node and removes its temp dir; idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** The JDK OpenSearch runs on: OPENSEARCH_JAVA_HOME, JAVA_HOME, or the one `java` on PATH belongs to. */
function javaHome(): string {
  const given = process.env.OPENSEARCH_JAVA_HOME ?? process.env.JAVA_HOME;
  if (given) return given;
  for (const dir of (process.env.PATH ?? '').split(':')) {
    const java = join(dir, 'java');
    if (dir && existsSync(java)) return dirname(dirname(realpathSync(java)));
  }
  throw new Error('no java on PATH for OpenSearch');
}

function writeConfig(dir: string, port: number): void {
  const conf = join(dir, 'config');
  cpSync(join(home, 'config'), conf, { recursive: true });
  // The shipped jvm.options writes the GC log and heap dumps relative to the install dir, which
  // the unprivileged user may not write: both go to the temp dir.
  const jvm = readFileSync(join(conf, 'jvm.options'), 'utf8')
    .replace(/^-Xms\S+$/m, '-Xms512m')
    .replace(/^-Xmx\S+$/m, '-Xmx512m')
    .replaceAll('logs/gc.log', join(dir, 'logs', 'gc.log'))
    .replaceAll('logs/hs_err', join(dir, 'logs', 'hs_err'))
    .replace('HeapDumpPath=data', `HeapDumpPath=${join(dir, 'data')}`);
  writeFileSync(join(conf, 'jvm.options'), jvm);
  const yml = [
    'cluster.name: flaggate-test',
    'node.name: n1',
    `path.data: ${join(dir, 'data')}`,
    `path.logs: ${join(dir, 'logs')}`,
    'network.host: 127.0.0.1',
    `http.port: ${port}`,
    'transport.port: 0',
    'discovery.type: single-node',
    // A near-full disk on a shared test machine must not turn the index read-only mid-test.
    'cluster.routing.allocation.disk.threshold_enabled: false',
    // The integ-test distribution has no security plugin; a full one would need it off as well.
    ...(existsSync(join(home, 'plugins', 'opensearch-security')) ? ['plugins.security.disabled: true'] : []),
  ];
  writeFileSync(join(conf, 'opensearch.yml'), yml.join('\n') + '\n');
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  if (!statSync(path).isDirectory()) return;
  for (const name of readdirSync(path)) chownTree(join(path, name), uid, gid);
}

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new Error(`no system user "${name}" to run OpenSearch as; run scripts/setup-test-env.sh`);
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

async function waitUntilUp(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`OpenSearch exited with ${child.exitCode}:\n${log().slice(-3000)}`);
    try {
      const res = await fetch(`${url}/_cluster/health?wait_for_status=yellow&timeout=1s`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`OpenSearch did not start within 90 s:\n${log().slice(-3000)}`);
}

/** Starts a node and resolves once its cluster is at least yellow. */
export async function startOpenSearch(): Promise<OpenSearchNode> {
  if (!existsSync(join(home, 'bin', 'opensearch'))) throw new Error(`OpenSearch ${OPENSEARCH_VERSION} not installed at ${home}; run scripts/setup-test-env.sh`);
  const dir = mkdtempSync(join(tmpdir(), 'flaggate-opensearch-'));
  for (const sub of ['data', 'logs', 'tmp']) mkdirSync(join(dir, sub));
  const port = await freePort();
  writeConfig(dir, port);
  const env = { ...process.env, OPENSEARCH_JAVA_HOME: javaHome(), OPENSEARCH_PATH_CONF: join(dir, 'config'), OPENSEARCH_TMPDIR: join(dir, 'tmp') };
  let argv: [string, string[]] = [join(home, 'bin', 'opensearch'), []];
  if (asRoot) {
    const { uid, gid } = userIds(runUser);
    chownTree(dir, uid, gid);
    argv = ['setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', join(home, 'bin', 'opensearch')]];
  }
  let output = '';
  const child = spawn(argv[0], argv[1], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-20_000)));
  child.stderr.on('data', (b: Buffer) => (output = (output + b.toString()).slice(-20_000)));
  live.add(child);
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGCONT');
      child.kill('SIGKILL');
      await exited;
    }
    live.delete(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, child, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, pid: child.pid!, pause: () => child.kill('SIGSTOP'), resume: () => child.kill('SIGCONT'), stop };
}
