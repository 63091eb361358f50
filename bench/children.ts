/**
 * Child processes of the benchmark: started with a first-line JSON handshake, measured through
 * /proc, and stopped by PID (SIGTERM, then SIGKILL); any still alive are killed on exit.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readLauncher } from '../test/support/launcher-flags.js';

/** A started child process. */
export interface Child<T> {
  pid: number;
  /** The first line the child printed, parsed as JSON (undefined for `waitFor` children). */
  hello: T;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) kill(child, 'SIGKILL');
});

function kill(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    // already gone
  }
}

function track(child: ChildProcess, label: string): { pid: number; exited: Promise<void>; stop(): Promise<void>; output(): string } {
  if (child.pid === undefined) throw new Error(`could not spawn ${label}`);
  live.add(child);
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      kill(child, 'SIGTERM');
      const timer = setTimeout(() => kill(child, 'SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopping;
  };
  return { pid: child.pid, exited, stop, output: () => output };
}

/**
 * Runs `node ...nodeArgs <script> ...args` (environment `env`; TypeScript through `--import tsx`,
 * JavaScript as is, so a built program pays for no loader) and resolves with the JSON line it prints first.
 */
export async function startTsChild<T>(script: string, args: string[], label: string, nodeArgs: string[] = [], env: NodeJS.ProcessEnv = process.env, timeoutMs = 60_000): Promise<Child<T>> {
  const loader = script.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...loader, script, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env });
  const t = track(child, label);
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let buffered = '';
      const timer = setTimeout(() => reject(new Error(`${label}: no handshake within ${timeoutMs} ms`)), timeoutMs);
      child.stdout!.on('data', (chunk: Buffer) => {
        buffered += chunk.toString('utf8');
        const nl = buffered.indexOf('\n');
        if (nl !== -1) {
          clearTimeout(timer);
          resolve(buffered.slice(0, nl));
        }
      });
      void t.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`${label} exited before its handshake`));
      });
    });
    return { pid: t.pid, hello: JSON.parse(line) as T, stop: t.stop };
  } catch (err) {
    await t.stop();
    throw new Error(`${(err as Error).message}\n${t.output()}`, { cause: err });
  }
}

/** Runs `command args` and resolves once `ready()` does (polled every 100 ms). */
export async function startReadyChild(command: string, args: string[], label: string, ready: () => Promise<boolean>, timeoutMs = 60_000): Promise<Child<undefined>> {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const t = track(child, label);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) break;
    if (await ready().catch(() => false)) return { pid: t.pid, hello: undefined, stop: t.stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await t.stop();
  throw new Error(`${label} did not become ready\n${t.output()}`);
}

/** Resident and peak resident memory of a process, in MiB, from /proc (Linux). */
export function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** User plus system CPU seconds a process has used so far, from /proc/PID/stat (Linux). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesized command name; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / 100;
}

/** What `bench/flaggate-child.mjs` prints once flaggate listens. */
export interface FlaggateChildHello {
  proxyUrl: string;
  controlUrl: string;
  dataDir: string;
  tokens: { releaseEngineer: string; qa: string };
}

const root = join(import.meta.dirname, '..');

/**
 * flaggate in its own process from the built JavaScript (`bench/flaggate-child.mjs`, `overrides` as
 * dotted config keys), with the environment and node flags of its launcher line, as `flaggate serve`
 * and the image run it; `v8Defaults` leaves them out (V8's and glibc's own sizing), `nodeArgs` adds to them.
 */
export function startFlaggateProcess(overrides: Record<string, unknown>, options: { label?: string; nodeArgs?: string[]; env?: NodeJS.ProcessEnv; v8Defaults?: boolean } = {}): Promise<Child<FlaggateChildHello>> {
  const launcher = options.v8Defaults ? { env: {}, flags: [] } : readLauncher(root, 'dist/cli.js');
  const env = { ...(options.env ?? process.env), ...launcher.env };
  return startTsChild<FlaggateChildHello>(join(root, 'bench/flaggate-child.mjs'), [JSON.stringify(overrides)], options.label ?? 'flaggate', [...launcher.flags, ...(options.nodeArgs ?? [])], env);
}
