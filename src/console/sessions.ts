import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Actor } from '../identify/index.js';

/** A signed-in person: who they are, the CSRF token their forms carry, and when it began and was last used. */
export interface Session {
  actor: Actor;
  csrf: string;
  createdAt: number;
  seenAt: number;
}

/** A sign-in under way: the CSRF token of the form, or the OpenID Connect values bound to the browser. */
export interface PendingSignIn {
  csrf: string;
  createdAt: number;
  oidc?: { state: string; nonce: string; codeVerifier: string };
}

export interface SessionStore {
  /** Starts a session; the returned id goes into the cookie and is never stored as such. */
  create(actor: Actor): { id: string; session: Session };
  /** The live session for a cookie value, touched; `expired` when it timed out (and is then gone). */
  find(id: string | undefined): Session | 'expired' | undefined;
  destroy(id: string | undefined): void;
  startSignIn(oidc?: PendingSignIn['oidc']): { id: string; pending: PendingSignIn };
  peekSignIn(id: string | undefined): PendingSignIn | undefined;
  /** A sign-in is used once: taking it removes it. */
  takeSignIn(id: string | undefined): PendingSignIn | undefined;
}

export interface SessionLimits {
  idleSeconds: number;
  maxSeconds: number;
  /** Sign-ins not completed within this time are forgotten. */
  signInSeconds?: number;
  /** At most this many sessions (and as many pending sign-ins); the oldest go first. */
  maxEntries?: number;
  /** At most this many sessions of one person: signing in again and again ends their own oldest, never someone else's. */
  maxPerPerson?: number;
}

/**
 * Server-side sessions in memory: the browser holds only a random id, stored here by its SHA-256, so
 * a dump of this map cannot be replayed as cookies. A restart signs everyone out, which fails closed.
 */
export function createSessionStore(clock: Clock, limits: SessionLimits): SessionStore {
  const sessions = new Map<string, Session>();
  const signIns = new Map<string, PendingSignIn>();
  const signInMs = (limits.signInSeconds ?? 600) * 1000;
  const maxEntries = limits.maxEntries ?? 10_000;
  const maxPerPerson = limits.maxPerPerson ?? 8;

  const live = (s: Session, now: number) => now - s.seenAt <= limits.idleSeconds * 1000 && now - s.createdAt <= limits.maxSeconds * 1000;

  function bounded<T>(map: Map<string, T>): void {
    // Maps iterate in insertion order: the first key is the oldest.
    while (map.size >= maxEntries) map.delete(map.keys().next().value!);
  }

  return {
    create(actor) {
      const now = clock.now();
      // A full store loses its timed-out sessions before anyone's live one.
      if (sessions.size >= maxEntries) for (const [key, s] of sessions) if (!live(s, now)) sessions.delete(key);
      const own = [...sessions].filter(([, s]) => s.actor.id === actor.id);
      for (const [key] of own.slice(0, Math.max(0, own.length - maxPerPerson + 1))) sessions.delete(key);
      bounded(sessions);
      const id = newId();
      const session: Session = { actor, csrf: newId(), createdAt: now, seenAt: now };
      sessions.set(keyOf(id), session);
      return { id, session };
    },
    find(id) {
      if (id === undefined) return undefined;
      const key = keyOf(id);
      const session = sessions.get(key);
      if (!session) return undefined;
      const now = clock.now();
      if (!live(session, now)) {
        sessions.delete(key);
        return 'expired';
      }
      session.seenAt = now;
      return session;
    },
    destroy(id) {
      if (id !== undefined) sessions.delete(keyOf(id));
    },
    startSignIn(oidc) {
      bounded(signIns);
      const id = newId();
      const pending: PendingSignIn = { csrf: newId(), createdAt: clock.now(), ...(oidc ? { oidc } : {}) };
      signIns.set(keyOf(id), pending);
      return { id, pending };
    },
    peekSignIn(id) {
      if (id === undefined) return undefined;
      const pending = signIns.get(keyOf(id));
      return pending && clock.now() - pending.createdAt <= signInMs ? pending : undefined;
    },
    takeSignIn(id) {
      if (id === undefined) return undefined;
      const key = keyOf(id);
      const pending = signIns.get(key);
      signIns.delete(key);
      return pending && clock.now() - pending.createdAt <= signInMs ? pending : undefined;
    },
  };
}

function newId(): string {
  return randomBytes(32).toString('base64url');
}

function keyOf(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}
