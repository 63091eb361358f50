import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';

/**
 * Starts the worker module `name` (a file beside this one). From the built JavaScript it is loaded
 * directly; from the TypeScript sources (tests, tsx) the worker needs the same loader, so it boots
 * through tsx first.
 */
export function startModuleWorker(name: string, options: WorkerOptions): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const entry = new URL(`./${name}${ext}`, import.meta.url);
  if (ext === '.js') return new Worker(entry, options);
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { ...options, eval: true });
}
