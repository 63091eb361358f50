import { watchFile, unwatchFile } from 'node:fs';
import type { PolicyEngine } from './engine.js';

/**
 * Hot reload: when the bundle file changes (a new `opa build` copied into place, a mounted config
 * map updated), the engine loads it and swaps it in only if it loads and validates; a bad bundle
 * is reported and the running policy stays. Polls the file's stat, which works on every mount type.
 */
export function watchPolicyBundle(o: {
  engine: PolicyEngine;
  bundlePath: string;
  intervalMs?: number;
  onReload(result: { ok: true; revision: string; sha256: string; keyId?: string } | { ok: false; error: unknown }): void;
}): { reloadNow(): Promise<void>; close(): void } {
  const reloadNow = async () => {
    const before = o.engine.revision.sha256;
    try {
      await o.engine.reload();
      const keyId = o.engine.signer?.keyId;
      if (o.engine.revision.sha256 !== before) o.onReload({ ok: true, ...o.engine.revision, ...(keyId ? { keyId } : {}) });
    } catch (error) {
      o.onReload({ ok: false, error });
    }
  };
  const listener = (now: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => {
    if (now.mtimeMs !== prev.mtimeMs || now.size !== prev.size) void reloadNow();
  };
  watchFile(o.bundlePath, { interval: o.intervalMs ?? 2000, persistent: false }, listener);
  return { reloadNow, close: () => unwatchFile(o.bundlePath, listener) };
}
