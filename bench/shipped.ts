/**
 * The verifiers as `flaggate` runs them: loaded from the built JavaScript (dist/, which `npm run
 * bench` builds first), so their worker threads start as they do for a user, not through the tsx
 * loader the bench itself runs under (which adds about 0.4 s to a verify-export of 200,000 entries):
 * a worker of the built JavaScript is started without this process's options (`--import` of tsx's
 * hooks among them), as `src/audit/start-worker.ts` says.
 */
import type * as Audit from '../src/audit/index.js';
import type * as Replicate from '../src/replicate/index.js';
import type * as Timestamp from '../src/timestamp/index.js';

const dist = <T>(path: string): Promise<T> => import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<T>;

export const shipped = {
  audit: () => dist<typeof Audit>('audit/index.js'),
  replicate: () => dist<typeof Replicate>('replicate/index.js'),
  timestamp: () => dist<typeof Timestamp>('timestamp/index.js'),
};
