import { describe, expect, it } from 'vitest';
import type { UpstreamCheck } from '../../src/replicate/index.js';
import { createUpstreamWatch } from '../../src/replicate/index.js';

const check = (ok: boolean): UpstreamCheck => ({ sink: 'pg', ok, local: { seq: 3, hash: 'a' }, upstream: { seq: 3, hash: ok ? 'a' : 'b' }, message: ok ? 'in step' : 'differs', ...(ok ? {} : { kind: 'forked' as const }) });

describe('createUpstreamWatch', () => {
  it('answers from its last comparison while fresh, and tells of each divergence once, when it starts', async () => {
    let t = 0;
    let answer = true;
    let calls = 0;
    const diverged: UpstreamCheck[] = [];
    const watch = createUpstreamWatch({ now: () => t, maxAgeMs: 1000, check: async () => (calls++, [check(answer)]), onDiverged: (c) => diverged.push(c) });
    expect(await watch.current()).toMatchObject([{ ok: true }]);
    answer = false;
    t = 500;
    expect(await watch.current()).toMatchObject([{ ok: true }]);
    expect(calls).toBe(1);
    t = 1600;
    expect(await watch.current()).toMatchObject([{ ok: false, kind: 'forked' }]);
    t = 3000;
    await watch.current();
    expect(diverged).toHaveLength(1);
    answer = true;
    t = 4500;
    expect(await watch.current()).toMatchObject([{ ok: true }]);
  });

  it('does not hang on a slow upstream: the previous answer stands after waitMs', async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let first = true;
    let t = 0;
    let calls = 0;
    const watch = createUpstreamWatch({
      waitMs: 20,
      maxAgeMs: 5,
      now: () => (t += 10),
      check: async () => {
        calls += 1;
        if (first) return (first = false), [check(true)];
        await slow;
        return [check(false)];
      },
    });
    await watch.refresh();
    const started = Date.now();
    expect(await watch.current()).toMatchObject([{ ok: true }]);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(calls).toBe(2);
    release();
    await new Promise((r) => setTimeout(r, 0));
    expect(await watch.current()).toMatchObject([{ ok: false }]);
  });
});
