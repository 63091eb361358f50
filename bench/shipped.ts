/**
 * The verifiers as `flaggate` runs them: loaded from the built JavaScript (dist/, which `npm run
 * bench` builds first), so their worker threads start as they do for a user, not through the tsx
 * loader the bench itself runs under (which adds about 0.4 s to a verify-export of 200,000 entries).
 */
const dist = <T>(path: string): Promise<T> => import(new URL(`../dist/${path}`, import.meta.url).href) as Promise<T>;

export const shipped = {
  audit: () => dist<typeof import('../src/audit/index.js')>('audit/index.js'),
  replicate: () => dist<typeof import('../src/replicate/index.js')>('replicate/index.js'),
  timestamp: () => dist<typeof import('../src/timestamp/index.js')>('timestamp/index.js'),
};
