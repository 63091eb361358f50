import { watchFile, unwatchFile } from 'node:fs';
import { readBundleBytes } from './bundle.js';

/**
 * Hot reload: when the bundle file changes (a new `opa build` copied into place, a mounted config
 * map updated), its bytes are read once and handed to `onBundle`, which verifies, loads and swaps
 * them in or throws and keeps the running policy; a failure goes to `onFailure`. Polls the file's
 * stat, which works on every mount type.
 */
export function watchPolicyBundle(o: {
  bundlePath: string;
  intervalMs?: number;
  onBundle(bytes: Buffer): Promise<void>;
  onFailure(error: unknown): void;
}): { reloadNow(): Promise<void>; close(): void } {
  const reloadOnce = async () => {
    try {
      await o.onBundle(await readBundleBytes(o.bundlePath));
    } catch (error) {
      o.onFailure(error);
    }
  };
  // One reload at a time, each reading the file when its turn comes: two at once (the file watch and
  // a SIGHUP) would otherwise both record the bundle before them as the one they replaced, and an
  // older read could be swapped in after a newer one.
  let queue: Promise<void> = Promise.resolve();
  const reloadNow = () => (queue = queue.then(reloadOnce));
  const listener = (now: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => {
    if (now.mtimeMs !== prev.mtimeMs || now.size !== prev.size) void reloadNow();
  };
  watchFile(o.bundlePath, { interval: o.intervalMs ?? 2000, persistent: false }, listener);
  return { reloadNow, close: () => unwatchFile(o.bundlePath, listener) };
}
