import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
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
  /** At most this many sessions; the oldest go first. */
  maxEntries?: number;
  /** At most this many sessions of one person: signing in again and again ends their own oldest, never someone else's. */
  maxPerPerson?: number;
}

/**
 * Server-side sessions in memory: the browser holds only a random id, stored here by its SHA-256, so
 * a dump of this map cannot be replayed as cookies. A restart signs everyone out, which fails closed.
 * A sign-in under way is held by the browser alone, sealed (AES-256-GCM, a key of this process):
 * anyone may start sign-ins, so none of them may take room from another person's.
 */
export function createSessionStore(clock: Clock, limits: SessionLimits): SessionStore {
  const sessions = new Map<string, Session>();
  const seal = createSeal();
  /** Sign-ins taken, by key, until they would have expired anyway: each is used once. */
  const taken = new Map<string, number>();
  const signInMs = (limits.signInSeconds ?? 600) * 1000;
  const maxEntries = limits.maxEntries ?? 10_000;
  const maxPerPerson = limits.maxPerPerson ?? 8;

  const live = (s: Session, now: number) => now - s.seenAt <= limits.idleSeconds * 1000 && now - s.createdAt <= limits.maxSeconds * 1000;

  function bounded<T>(map: Map<string, T>): void {
    // Maps iterate in insertion order: the first key is the oldest.
    while (map.size >= maxEntries) map.delete(map.keys().next().value!);
  }

  const peek = (id: string | undefined): PendingSignIn | undefined => {
    const pending = id === undefined ? undefined : seal.open(id);
    return pending && clock.now() - pending.createdAt <= signInMs && !taken.has(keyOf(id!)) ? pending : undefined;
  };

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
      const pending: PendingSignIn = { csrf: newId(), createdAt: clock.now(), ...(oidc ? { oidc } : {}) };
      return { id: seal.close(pending), pending };
    },
    peekSignIn: (id) => peek(id),
    takeSignIn(id) {
      const pending = peek(id);
      if (!pending) return undefined;
      const now = clock.now();
      // Oldest first: those past the sign-in time could not be used again anyway. Beyond that the
      // bound is wide: evicting a live mark takes 100,000 sign-ins completed within the sign-in time,
      // and lets only a cookie already used (and HttpOnly) be used once more.
      for (const [key, at] of taken) if (now - at > signInMs) taken.delete(key); else break;
      while (taken.size >= TAKEN_AT_MOST) taken.delete(taken.keys().next().value!);
      taken.set(keyOf(id!), now);
      return pending;
    },
  };
}

/** Seals a pending sign-in into a cookie value only this process opens; a value it did not seal, or altered, opens to nothing. */
function createSeal(): { close(p: PendingSignIn): string; open(value: string): PendingSignIn | undefined } {
  const key = randomBytes(32);
  const aad = Buffer.from('flaggate console sign-in');
  return {
    close(p) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(aad);
      const sealed = Buffer.concat([cipher.update(JSON.stringify(p), 'utf8'), cipher.final()]);
      return Buffer.concat([iv, sealed, cipher.getAuthTag()]).toString('base64url');
    },
    open(value) {
      try {
        const bytes = Buffer.from(value, 'base64url');
        if (bytes.length < 29 || bytes.length > 4096) return undefined;
        const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, 12)).setAAD(aad).setAuthTag(bytes.subarray(bytes.length - 16));
        const text = Buffer.concat([decipher.update(bytes.subarray(12, bytes.length - 16)), decipher.final()]).toString('utf8');
        return JSON.parse(text) as PendingSignIn;
      } catch {
        return undefined;
      }
    },
  };
}

/** Sign-ins remembered as used, within the sign-in time. */
const TAKEN_AT_MOST = 100_000;

function newId(): string {
  return randomBytes(32).toString('base64url');
}

function keyOf(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}
