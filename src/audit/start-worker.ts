import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` (a file beside this one). From the built JavaScript it is loaded
 * directly, with none of the Node.js options the process was started with (`execArgv`): a worker
 * does plain computation and needs no loader or preload of the process's (V8's flags are the
 * process's own either way), and each one a worker inherited it would run again at its start (a
 * `--import` of tsx cost a `verify --postgres` of 100,000 entries about 0.3 s of CPU in its two
 * workers). From the TypeScript sources (tests, tsx) the worker needs the same loader, so it boots
 * through tsx first.
 */
export function startModuleWorker(name: string, options: WorkerOptions): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./${name}${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(entry, { ...options, execArgv: [] });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
