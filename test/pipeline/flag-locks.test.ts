import { describe, expect, it } from 'vitest';
import { createFlagLocks } from '../../src/pipeline/flag-locks.js';
import { flagLockKeys, type FlagChange } from '../../src/platforms/index.js';

const tick = () => new Promise((r) => setTimeout(r, 2));

describe('flag locks', () => {
  it('runs work on one flag one at a time, in arrival order, and other flags beside it', async () => {
    const locks = createFlagLocks();
    const log: string[] = [];
    let inside = 0;
    let most = 0;
    const work = (key: string, i: number) =>
      locks.run(key, async () => {
        inside += key === 'a' ? 1 : 0;
        most = Math.max(most, inside);
        log.push(`${key}${i}+`);
        await tick();
        log.push(`${key}${i}-`);
        inside -= key === 'a' ? 1 : 0;
        return i;
      });
    const results = await Promise.all([work('a', 1), work('a', 2), work('b', 1), work('a', 3)]);
    expect(results).toEqual([1, 2, 1, 3]);
    expect(most).toBe(1);
    const a = log.filter((l) => l.startsWith('a'));
    expect(a).toEqual(['a1+', 'a1-', 'a2+', 'a2-', 'a3+', 'a3-']);
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
  });

  it('releases the flag when work fails', async () => {
    const locks = createFlagLocks();
    await expect(locks.run('a', () => Promise.reject(new Error('no')))).rejects.toThrow('no');
    await expect(locks.run('a', async () => 'next')).resolves.toBe('next');
  });

  it('locks every key by id of a platform as one flag: Flagsmith reaches a feature by several routes and ids', () => {
    const change = (platform: string, flagKey: string, more: string[] = []) =>
      ({ platform, action: 'flag.enable', flagKey, flags: more.map((k) => ({ flagKey: k, environments: ['*'] })) }) as unknown as FlagChange;
    expect(flagLockKeys(change('flagsmith', 'feature-state:7'))).toEqual(flagLockKeys(change('flagsmith', 'feature:12')));
    expect(flagLockKeys(change('flagsmith', 'feature:12'))).not.toEqual(flagLockKeys(change('other', 'feature:12')));
    expect(flagLockKeys(change('unleash', 'checkout'))).not.toEqual(flagLockKeys(change('unleash', 'search')));
    expect(flagLockKeys(change('unleash', 'b', ['a', 'b', 'segment:1']))).toEqual([
      { key: 'unleash\u0000*', shared: false },
      { key: 'unleash\u0000a', shared: false },
      { key: 'unleash\u0000b', shared: false },
    ]);
  });

  it("holds the platform's common lock shared for a change by flag name, exclusive for one by id", () => {
    const change = (flagKey: string) => ({ platform: 'unleash', action: 'flag.enable', flagKey }) as unknown as FlagChange;
    expect(flagLockKeys(change('checkout'))).toEqual([{ key: 'unleash\u0000*', shared: true }, { key: 'unleash\u0000checkout', shared: false }]);
    expect(flagLockKeys(change('segment:3'))).toEqual([{ key: 'unleash\u0000*', shared: false }]);
    // A change that alters something every change of the platform may touch holds it exclusive too.
    expect(flagLockKeys({ ...change('checkout'), exclusive: true })).toEqual([{ key: 'unleash\u0000*', shared: false }, { key: 'unleash\u0000checkout', shared: false }]);
    // In one order whatever the names: `!` sorts before the common key.
    expect(flagLockKeys(change('!x')).map((k) => k.key)).toEqual(['unleash\u0000!x', 'unleash\u0000*']);
  });

  it('lets shared holders run together, an exclusive one alone, in arrival order (no starvation)', async () => {
    const locks = createFlagLocks();
    const log: string[] = [];
    const gates = new Map<string, () => void>();
    const held = (name: string, mode: 'shared' | 'exclusive') =>
      locks.run('k', () => new Promise<void>((resolve) => { log.push(`${name}+`); gates.set(name, () => { log.push(`${name}-`); resolve(); }); }), mode);
    const s1 = held('s1', 'shared');
    const s2 = held('s2', 'shared');
    const x = held('x', 'exclusive');
    const s3 = held('s3', 'shared');
    await tick();
    // Both shared holders run; the exclusive one waits, and the shared one after it waits behind it.
    expect(log).toEqual(['s1+', 's2+']);
    gates.get('s1')!();
    await tick();
    expect(log).toEqual(['s1+', 's2+', 's1-']);
    gates.get('s2')!();
    await tick();
    expect(log).toEqual(['s1+', 's2+', 's1-', 's2-', 'x+']);
    gates.get('x')!();
    await tick();
    expect(log.slice(-2)).toEqual(['x-', 's3+']);
    gates.get('s3')!();
    await Promise.all([s1, s2, x, s3]);
  });

  it('releases a shared hold when work fails', async () => {
    const locks = createFlagLocks();
    await expect(locks.run('k', () => Promise.reject(new Error('no')), 'shared')).rejects.toThrow('no');
    await expect(locks.run('k', async () => 'next', 'exclusive')).resolves.toBe('next');
  });
});
