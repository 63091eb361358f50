import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { createRefusalLimiter, type RefusedActor } from '../../src/intercept/index.js';

const actor = (id: string, authMethod: RefusedActor['authMethod'] = 'jwt'): RefusedActor => ({ id, displayName: id, authMethod, roles: ['qa'] });

describe('createRefusalLimiter', () => {
  it('records a burst per actor, then the steady rate, never more', () => {
    const clock = fixedClock(0);
    const limiter = createRefusalLimiter({ perSecond: 2, burst: 3, windowMs: 60_000, clock });
    const quinn = actor('quinn');
    expect([1, 2, 3, 4].map(() => limiter.admit(quinn, 'POLICY_DENIED'))).toEqual([true, true, true, false]);
    clock.advance(500);
    expect([limiter.admit(quinn, 'POLICY_DENIED'), limiter.admit(quinn, 'POLICY_DENIED')]).toEqual([true, false]);
    clock.advance(10_000);
    expect([1, 2, 3, 4].map(() => limiter.admit(quinn, 'POLICY_DENIED'))).toEqual([true, true, true, false]);
  });

  it('gives each actor a bucket of its own: one flooding caller does not silence the others', () => {
    const limiter = createRefusalLimiter({ perSecond: 1, burst: 2, windowMs: 60_000, clock: fixedClock(0) });
    for (let i = 0; i < 100; i += 1) limiter.admit(actor('unauthenticated', 'none'), 'IDENTIFY_TOKEN_INVALID');
    expect(limiter.admit(actor('riley'), 'POLICY_DENIED')).toBe(true);
    // Same id, another way of authenticating: another actor.
    expect(limiter.admit(actor('unauthenticated', 'jwt'), 'POLICY_DENIED')).toBe(true);
  });

  it('summarizes what it counted once per window: how many, between when, by which code', () => {
    const clock = fixedClock(Date.UTC(2026, 0, 1));
    const limiter = createRefusalLimiter({ perSecond: 0.001, burst: 1, windowMs: 1000, clock });
    const quinn = actor('quinn');
    expect(limiter.admit(quinn, 'POLICY_DENIED')).toBe(true);
    const start = clock.now();
    for (let i = 0; i < 5; i += 1) {
      clock.advance(100);
      expect(limiter.admit(quinn, i % 2 ? 'ADAPT_BODY_MALFORMED' : 'POLICY_DENIED')).toBe(false);
    }
    expect(limiter.drain()).toEqual([]); // the window is still open
    clock.advance(1000);
    expect(limiter.drain()).toEqual([{ actor: quinn, refusals: 5, firstAt: start + 100, lastAt: start + 500, byCode: { POLICY_DENIED: 3, ADAPT_BODY_MALFORMED: 2 } }]);
    expect(limiter.drain()).toEqual([]); // handed out once
    expect(limiter.admit(quinn, 'POLICY_DENIED')).toBe(false);
    expect(limiter.drain(true)).toMatchObject([{ refusals: 1 }]); // at shutdown, open windows too
  });

  it('tracks a bounded number of actors; the rest share one bucket, summarized as actor "*"', () => {
    const limiter = createRefusalLimiter({ perSecond: 0.001, burst: 1, windowMs: 1000, clock: fixedClock(0), maxActors: 3 });
    for (let i = 0; i < 3; i += 1) limiter.admit(actor(`a${i}`), 'POLICY_DENIED'); // each spends its one token: all stay tracked
    expect(limiter.admit(actor('b0'), 'POLICY_DENIED')).toBe(true);
    expect(limiter.admit(actor('b1'), 'POLICY_DENIED')).toBe(false);
    expect(limiter.drain(true)).toEqual([expect.objectContaining({ actor: expect.objectContaining({ id: '*' }), refusals: 1 })]);
  });
});
