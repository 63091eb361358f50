import { createHash } from 'node:crypto';
import type { Actor } from './actor.js';

/**
 * Verified tokens by digest, so a client that sends the same bearer token with every change pays
 * for one signature check, not one per request. An entry is good until the token's `exp` (plus the
 * leeway the verifier allows) and never longer than `maxSeconds` after it was verified, so a key
 * withdrawn from the issuer's JWKS stops working within that bound. Bounded in size: the oldest
 * entry goes first. Only successes are kept; a refused token is checked again every time.
 */
export interface VerifiedCache {
  get(token: string, nowMs: number): Actor | undefined;
  put(token: string, actor: Actor, expSeconds: number, nowMs: number): void;
}

export function createVerifiedCache(options: { maxSeconds: number; maxEntries: number; leewaySeconds: number }): VerifiedCache {
  const entries = new Map<string, { actor: Actor; untilMs: number }>();
  const keyOf = (token: string) => createHash('sha256').update(token).digest('base64url');
  return {
    get(token, nowMs) {
      if (options.maxSeconds <= 0) return undefined;
      const key = keyOf(token);
      const hit = entries.get(key);
      if (!hit) return undefined;
      if (nowMs >= hit.untilMs) {
        entries.delete(key);
        return undefined;
      }
      return hit.actor;
    },
    put(token, actor, expSeconds, nowMs) {
      if (options.maxSeconds <= 0) return;
      const untilMs = Math.min((expSeconds + options.leewaySeconds) * 1000, nowMs + options.maxSeconds * 1000);
      if (untilMs <= nowMs) return;
      if (entries.size >= options.maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(keyOf(token), { actor, untilMs });
    },
  };
}
