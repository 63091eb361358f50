import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { calculateJwkThumbprint } from 'jose';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openKeyring, signCheckpoint, verifyCheckpoint } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { makeTempDir } from '../support/temp-dir.js';

const temp = makeTempDir('flaggate-keyring-');
afterAll(() => temp.cleanup());
const clock = fixedClock(Date.parse('2026-12-07T08:00:00.000Z'));
const claims = { chainId: 'c', seq: 1, hash: 'a'.repeat(64), time: '2026-12-07T08:00:00.000Z' };

describe('the checkpoint keyring', () => {
  it('destroys the private half of a rotated key, marks it retired, and a process that opened it earlier signs with the new one', async () => {
    const dir = join(temp.dir, 'keys');
    const sidecar = await openKeyring(dir, clock);
    const first = (await sidecar.active()).kid;
    const before = await signCheckpoint(claims, sidecar);
    // `flaggate keys rotate`, another process on the same directory.
    const rotated = await (await openKeyring(dir, clock)).rotate();
    expect(rotated).not.toBe(first);
    expect(existsSync(join(dir, `${first}.private.jwk.json`))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(dir, 'keyring.json'), 'utf8')) as { active: string; keys: Array<{ kid: string; retired_at?: string }> };
    expect(manifest.active).toBe(rotated);
    expect(manifest.keys.find((k) => k.kid === first)?.retired_at).toBe('2026-12-07T08:00:00.000Z');
    expect(manifest.keys.find((k) => k.kid === rotated)?.retired_at).toBeUndefined();
    // The sidecar picks the new key up, and serves both public halves.
    expect((await sidecar.active()).kid).toBe(rotated);
    const after = await signCheckpoint(claims, sidecar);
    expect(sidecar.jwks().keys.map((k) => k.kid)).toEqual([rotated, first]);
    // What the retired key signed still verifies.
    expect(await verifyCheckpoint(before, sidecar.jwks())).toMatchObject({ ok: true });
    expect(await verifyCheckpoint(after, sidecar.jwks())).toMatchObject({ ok: true });
  });

  it('names each key by its RFC 7638 thumbprint', async () => {
    const keyring = await openKeyring(join(temp.dir, 'thumb'), clock);
    const [key] = keyring.jwks().keys;
    expect(key!.kid).toBe(await calculateJwkThumbprint({ crv: key!.crv, kty: key!.kty, x: key!.x }));
  });

  it('lets rotations from two processes at once take turns: every key in the manifest, one private half left', async () => {
    const dir = join(temp.dir, 'race');
    await openKeyring(dir, clock);
    const moduleUrl = new URL('../../src/audit/keyring.ts', import.meta.url).href;
    const rotator = () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', '-e', `const { openKeyring } = await import(${JSON.stringify(moduleUrl)}); const clock = { now: () => Date.now() }; for (let i = 0; i < 5; i++) await (await openKeyring(${JSON.stringify(dir)}, clock)).rotate();`], { stdio: 'inherit' });
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`rotator exited ${code}`))));
      });
    await Promise.all([rotator(), rotator()]);
    const manifest = JSON.parse(readFileSync(join(dir, 'keyring.json'), 'utf8')) as { active: string; keys: Array<{ kid: string; retired_at?: string }> };
    expect(manifest.keys).toHaveLength(11);
    expect(manifest.keys.filter((k) => k.retired_at === undefined).map((k) => k.kid)).toEqual([manifest.active]);
    expect(readdirSync(dir).filter((f) => f.endsWith('.private.jwk.json'))).toEqual([`${manifest.active}.private.jwk.json`]);
  }, 60_000);
});
