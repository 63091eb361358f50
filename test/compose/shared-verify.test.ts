import { describe, expect, it } from 'vitest';
import { sharedVerify } from '../../src/compose/index.js';

describe('sharedVerify', () => {
  it('joins a verify under way, runs a new one once it settles, and after a failure too', async () => {
    let runs = 0;
    const gates: Array<() => void> = [];
    const verify = sharedVerify(() => new Promise<number>((resolve) => gates.push(() => resolve((runs += 1)))));
    const [a, b] = [verify(), verify()];
    expect(gates).toHaveLength(1);
    gates[0]!();
    expect(await Promise.all([a, b])).toEqual([1, 1]);
    const c = verify();
    expect(gates).toHaveLength(2);
    gates[1]!();
    expect(await c).toBe(2);
    const failing = sharedVerify(() => Promise.reject(new Error('chain broken')));
    await expect(failing()).rejects.toThrow('chain broken');
    await expect(failing()).rejects.toThrow('chain broken');
  });
});
