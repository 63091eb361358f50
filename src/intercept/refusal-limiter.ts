import type { Clock } from '../clock.js';
import type { Actor } from '../identify/index.js';

/** Who refusals are counted for: any actor, the unauthenticated one included. */
export type RefusedActor = Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;

/** Refusals of one actor that were counted instead of recorded, over one window. */
export interface RefusalSummary {
  actor: RefusedActor;
  refusals: number;
  /** Wall-clock milliseconds of the first and the last refusal counted. */
  firstAt: number;
  lastAt: number;
  /** How many of them each error code refused. */
  byCode: Record<string, number>;
}

export interface RefusalLimiter {
  /** True when this refusal is to be recorded; false when it is only counted toward the actor's summary. */
  admit(actor: RefusedActor, code: string): boolean;
  /** Summaries of the windows that have closed (all open ones too with `all`, at shutdown); each is handed out once. */
  drain(all?: boolean): RefusalSummary[];
}

interface ActorState {
  tokens: number;
  refilledAt: number;
  counted?: RefusalSummary & { closesAt: number };
}

/**
 * A token bucket per actor (`perSecond` on average, bursts up to `burst`): refusals within it are
 * recorded one by one; beyond it they are counted, and each actor's count is summarized once per
 * `windowMs` from its first uncounted refusal. Bounds how much of the ledger any one caller, the
 * unauthenticated one above all, can claim by being refused. At most `maxActors` are tracked; past
 * that, the rest share one bucket.
 */
export function createRefusalLimiter(o: { perSecond: number; burst: number; windowMs: number; clock: Clock; maxActors?: number }): RefusalLimiter {
  const maxActors = o.maxActors ?? 10_000;
  const states = new Map<string, ActorState>();
  const keyOf = (a: RefusedActor) => `${a.authMethod}\u0000${a.id}`;
  const overflowKey = '\u0000overflow';

  const refill = (s: ActorState) => {
    const now = o.clock.monotonic();
    s.tokens = Math.min(o.burst, s.tokens + ((now - s.refilledAt) / 1000) * o.perSecond);
    s.refilledAt = now;
  };
  const forget = () => {
    for (const [key, s] of states) {
      refill(s);
      if (!s.counted && s.tokens >= o.burst) states.delete(key);
    }
  };

  return {
    admit(actor, code) {
      let key = keyOf(actor);
      if (!states.has(key) && states.size >= maxActors) forget();
      if (!states.has(key) && states.size >= maxActors) key = overflowKey;
      let s = states.get(key);
      if (!s) states.set(key, (s = { tokens: o.burst, refilledAt: o.clock.monotonic() }));
      refill(s);
      if (s.tokens >= 1) {
        s.tokens -= 1;
        return true;
      }
      const now = o.clock.now();
      const shown: RefusedActor = key === overflowKey ? { id: '*', displayName: 'actors beyond the tracked limit', authMethod: 'none', roles: [] } : actor;
      s.counted ??= { actor: { ...shown, roles: [...shown.roles] }, refusals: 0, firstAt: now, lastAt: now, byCode: {}, closesAt: now + o.windowMs };
      s.counted.refusals += 1;
      s.counted.lastAt = now;
      s.counted.byCode[code] = (s.counted.byCode[code] ?? 0) + 1;
      return false;
    },
    drain(all = false) {
      const now = o.clock.now();
      const out: RefusalSummary[] = [];
      for (const s of states.values()) {
        if (!s.counted || (!all && now < s.counted.closesAt)) continue;
        const { closesAt: _closesAt, ...summary } = s.counted;
        out.push(summary);
        delete s.counted;
      }
      forget();
      return out;
    },
  };
}
