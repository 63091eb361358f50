/**
 * flaggate as a child process (`node --import tsx src/cli.ts`), for tests that need several
 * sidecars at once or a SIGKILL. Each has its own data dir, chain id and flagd file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { systemClock } from '../../src/clock.js';
import { mintDevToken } from '../../src/identify/index.js';
import { readLauncher } from '../support/launcher-flags.js';
import { freePort } from '../support/postgres.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const cli = ['--import', 'tsx', 'src/cli.ts'];
const run = promisify(execFile);

export interface SidecarProcess {
  readonly pid: number;
  readonly proxyUrl: string;
  readonly controlUrl: string;
  readonly dataDir: string;
  /** stderr so far (JSON log lines). */
  logs(): string;
  token(sub: string, ...roles: string[]): Promise<string>;
  /** Reads the platform's flag file. */
  flagFile(): string;
  kill(signal: NodeJS.Signals): Promise<void>;
}

type SidecarOptions = { dataDir: string; chainId: string; env?: Record<string, string>; asLaunched?: boolean };

/**
 * Starts `flaggate serve` and waits until /healthz answers. A port found free can be taken by
 * another test's process before flaggate binds it: a start refused with EADDRINUSE (flaggate exits,
 * nothing served) is tried again on other ports.
 */
export async function startSidecarProcess(options: SidecarOptions): Promise<SidecarProcess> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options);
    } catch (err) {
      if (attempt === 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startOnce(options: SidecarOptions): Promise<SidecarProcess> {
  const [proxyPort, controlPort] = [await freePort(), await freePort()];
  // As flaggate's launcher line starts it (its memory settings), for tests that measure memory.
  const launcher = options.asLaunched ? readLauncher(root) : { env: {}, flags: [] };
  const child: ChildProcess = spawn(process.execPath, [...launcher.flags, ...cli, 'serve'], {
    cwd: root,
    env: {
      ...process.env,
      ...launcher.env,
      FLAGGATE_DATA_DIR: options.dataDir,
      FLAGGATE_CHAIN_ID: options.chainId,
      FLAGGATE_HOST: '127.0.0.1',
      FLAGGATE_PROXY_PORT: String(proxyPort),
      FLAGGATE_CONTROL_PORT: String(controlPort),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const controlUrl = `http://127.0.0.1:${controlPort}`;

  const deadline = Date.now() + 120_000; // generous: a loaded 2-core machine starts slowly
  for (;;) {
    if (child.exitCode !== null) throw new Error(`flaggate exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${controlUrl}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`flaggate did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    pid: child.pid!,
    proxyUrl: `http://127.0.0.1:${proxyPort}`,
    controlUrl,
    dataDir: options.dataDir,
    logs: () => stderr,
    token: (sub, ...roles) => mintDevToken({ dataDir: options.dataDir, sub, roles, clock: systemClock }),
    flagFile: () => readFileSync(`${options.dataDir}/flags.flagd.json`, 'utf8'),
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, signal);
      await exited;
    },
  };
}

/** Runs `flaggate <args>` to completion. */
export async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [...cli, ...args], { cwd: root, timeout: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** One flag change through a sidecar's proxy port: enable or disable, with a reason. */
export async function changeFlag(proxyUrl: string, token: string, flag: string, on: boolean, reason: string) {
  const res = await fetch(`${proxyUrl}/flags/${flag}/${on ? 'enable' : 'disable'}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': reason, 'x-flaggate-ticket': 'CHG-1' },
  });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get('retry-after'), json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
