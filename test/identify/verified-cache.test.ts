import { describe, expect, it } from 'vitest';
import { createIdentify, mintDevToken, type Actor } from '../../src/identify/index.js';
import { createVerifiedCache } from '../../src/identify/verified-cache.js';
import { loadConfig } from '../../src/config/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const actor = (id: string): Actor => ({ id, displayName: id, authMethod: 'jwt', roles: ['qa'], claims: {} }) as Actor;

describe('createVerifiedCache', () => {
  it('answers until exp plus leeway, never past maxSeconds, and forgets the oldest when full', () => {
    const cache = createVerifiedCache({ maxSeconds: 60, maxEntries: 2, leewaySeconds: 5 });
    cache.put('a', actor('a'), 100, 90_000); // exp 100 s: good until 105 s
    expect(cache.get('a', 104_999)?.id).toBe('a');
    expect(cache.get('a', 105_000)).toBeUndefined();
    cache.put('b', actor('b'), 10_000, 0); // far exp: bounded by maxSeconds
    expect(cache.get('b', 59_999)?.id).toBe('b');
    expect(cache.get('b', 60_000)).toBeUndefined();
    cache.put('c', actor('c'), 10_000, 0);
    cache.put('d', actor('d'), 10_000, 0);
    cache.put('e', actor('e'), 10_000, 0);
    expect(cache.get('c', 1)).toBeUndefined();
    expect(cache.get('e', 1)?.id).toBe('e');
  });

  it('keeps nothing with maxSeconds 0', () => {
    const cache = createVerifiedCache({ maxSeconds: 0, maxEntries: 10, leewaySeconds: 0 });
    cache.put('a', actor('a'), 10_000, 0);
    expect(cache.get('a', 1)).toBeUndefined();
  });
});

describe('identify with the cache', () => {
  it('refuses a cached token once it expired, and a token that differs by one byte is verified afresh', async () => {
    const tmp = makeTempDir();
    try {
      let now = Date.UTC(2026, 0, 1);
      const clock = { now: () => now, monotonic: () => now };
      const config = loadConfig({ env: {}, overrides: { dataDir: tmp.dir, 'identity.leewaySeconds': 0 } });
      const identify = createIdentify({ identity: config.identity, dataDir: tmp.dir, tokenBytes: 16_384, clock });
      const token = await mintDevToken({ dataDir: tmp.dir, sub: 'sam', roles: ['qa'], clock, ttlSeconds: 30 });
      expect((await identify.identify(`Bearer ${token}`)).id).toBe('sam');
      expect((await identify.identify(`Bearer ${token}`)).id).toBe('sam'); // from the cache
      const [h, p, sig] = token.split('.');
      // A character in the middle: the last one of a base64url signature may carry only padding bits.
      const mid = Math.floor(sig!.length / 2);
      const flipped = `${h}.${p}.${sig!.slice(0, mid)}${sig![mid] === 'A' ? 'B' : 'A'}${sig!.slice(mid + 1)}`;
      await expect(identify.identify(`Bearer ${flipped}`)).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_INVALID' });
      now += 31_000;
      await expect(identify.identify(`Bearer ${token}`)).rejects.toMatchObject({ code: 'IDENTIFY_TOKEN_EXPIRED' });
    } finally {
      tmp.cleanup();
    }
  });
});
