import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` (a file beside this one). From the built JavaScript it is loaded
 * directly, with none of the Node.js options the process was started with (`execArgv`) but its
 * profiling ones: a worker does plain computation and needs no loader or preload of the process's
 * (V8's flags are the process's own either way, and a worker refuses them when named), and each
 * one a worker inherited it would run again at its start (a `--import` of tsx cost a
 * `verify --postgres` of 100,000 entries about 0.3 s of CPU in its two workers). From the
 * TypeScript sources (tests, tsx) the worker needs the same loader, so it boots through tsx first.
 */
export function startModuleWorker(name: string, options: WorkerOptions): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./${name}${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(entry, { ...options, execArgv: profilingOptions(process.execArgv) });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}

/** `--cpu-prof` and `--heap-prof` and their settings, each with its value when given apart. */
function profilingOptions(execArgv: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < execArgv.length; i += 1) {
    const option = execArgv[i]!;
    if (!PROFILING.test(option)) continue;
    kept.push(option);
    if (TAKES_VALUE.test(option) && i + 1 < execArgv.length) kept.push(execArgv[(i += 1)]!);
  }
  return kept;
}

const PROFILING = /^--(cpu|heap)-prof(-|=|$)/;
const TAKES_VALUE = /^--(cpu|heap)-prof-(dir|name|interval)$/;
