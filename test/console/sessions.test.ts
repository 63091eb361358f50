import { describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { createSessionStore } from '../../src/console/sessions.js';
import type { Actor } from '../../src/identify/index.js';

const person = (id: string): Actor => ({ id, displayName: id, authMethod: 'oidc', roles: ['auditor'], claims: {} });

describe('console sessions', () => {
  it('ends a person\'s own oldest session when they sign in past the cap, never someone else\'s', () => {
    const store = createSessionStore(fixedClock(0), { idleSeconds: 600, maxSeconds: 3600, maxEntries: 20, maxPerPerson: 3 });
    const alice = store.create(person('alice')).id;
    const mallory = Array.from({ length: 50 }, () => store.create(person('mallory')).id);
    expect(store.find(alice)).toMatchObject({ actor: { id: 'alice' } });
    expect(mallory.map((id) => store.find(id) !== undefined)).toEqual([...Array(47).fill(false), true, true, true]);
  });

  it('drops timed-out sessions before a live one when the store is full, even a newer one', () => {
    const clock = fixedClock(0);
    const store = createSessionStore(clock, { idleSeconds: 60, maxSeconds: 3600, maxEntries: 3, maxPerPerson: 3 });
    const bob = store.create(person('bob')).id;
    clock.advance(5_000);
    const alice = store.create(person('alice')).id;
    clock.advance(45_000);
    expect(store.find(bob)).toMatchObject({ actor: { id: 'bob' } }); // bob is the oldest, and in use
    clock.advance(20_000);
    const carol = store.create(person('carol')).id;
    const dave = store.create(person('dave')).id; // the store is full: alice, idle 65 s, goes
    for (const [id, who] of [[bob, 'bob'], [carol, 'carol'], [dave, 'dave']] as const) expect(store.find(id)).toMatchObject({ actor: { id: who } });
    expect(store.find(alice)).toBeUndefined();
  });
});

describe('console sign-ins under way', () => {
  it('are not crowded out by anyone starting sign-ins: the browser holds each, sealed', () => {
    const clock = fixedClock(0);
    const store = createSessionStore(clock, { idleSeconds: 600, maxSeconds: 3600, maxEntries: 5, signInSeconds: 600 });
    const victim = store.startSignIn({ state: 's', nonce: 'n', codeVerifier: 'v' });
    for (let i = 0; i < 1_000; i += 1) store.startSignIn();
    expect(store.peekSignIn(victim.id)).toEqual(victim.pending);
    expect(store.takeSignIn(victim.id)).toEqual(victim.pending);
    // Nor is its single use undone by many sign-ins completed after it.
    for (let i = 0; i < 1_000; i += 1) store.takeSignIn(store.startSignIn().id);
    expect(store.takeSignIn(victim.id)).toBeUndefined();
  });

  it('are used once, expire, and open only as sealed here: an altered or foreign value is nothing', () => {
    const clock = fixedClock(0);
    const store = createSessionStore(clock, { idleSeconds: 600, maxSeconds: 3600, signInSeconds: 60 });
    const once = store.startSignIn();
    expect(store.takeSignIn(once.id)).toEqual(once.pending);
    expect(store.takeSignIn(once.id)).toBeUndefined();
    expect(store.peekSignIn(once.id)).toBeUndefined();
    const late = store.startSignIn();
    clock.advance(61_000);
    expect(store.takeSignIn(late.id)).toBeUndefined();
    const fresh = store.startSignIn();
    const flipped = fresh.id.slice(0, 20) + (fresh.id[20] === 'A' ? 'B' : 'A') + fresh.id.slice(21);
    expect(store.takeSignIn(flipped)).toBeUndefined();
    const other = createSessionStore(clock, { idleSeconds: 600, maxSeconds: 3600 });
    expect(other.takeSignIn(fresh.id)).toBeUndefined();
    expect(store.takeSignIn(fresh.id)).toEqual(fresh.pending);
  });
});
