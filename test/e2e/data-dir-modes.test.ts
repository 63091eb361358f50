import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { makeTempDir } from '../support/temp-dir.js';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('the data dir under a permissive umask', () => {
  const tmp = makeTempDir('flaggate-modes-');
  const fresh = join(tmp.dir, 'fresh', 'data');
  const existing = join(tmp.dir, 'existing');
  let previousUmask: number;
  const apps: Flaggate[] = [];

  const start = async (dataDir: string) => {
    const app = await startFlaggate(loadConfig({ env: {}, overrides: { dataDir, proxyPort: 0, controlPort: 0 } }), { logger: createLogger({ level: 'silent' }) });
    apps.push(app);
    const token = await mintDevToken({ dataDir, sub: 'riley', roles: ['release_engineer'], clock: systemClock });
    const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/enable`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'modes', 'x-flaggate-ticket': 'CHG-1' },
    });
    expect(res.status).toBe(200);
  };

  beforeAll(async () => {
    previousUmask = process.umask(0o000);
    mkdirSync(existing, { mode: 0o777 });
    chmodSync(existing, 0o777);
    await start(fresh);
    await start(existing);
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    process.umask(previousUmask);
    tmp.cleanup();
  });

  it.each([
    { name: 'a data dir it creates', dir: () => fresh },
    { name: 'an existing world-writable data dir', dir: () => existing },
  ])('keeps $name owner-only: dir 0700, ledger, -wal, -shm and JSONL stream 0600', ({ dir }) => {
    const dataDir = dir();
    expect(mode(dataDir)).toBe(0o700);
    for (const file of ['ledger.sqlite', 'ledger.sqlite-wal', 'ledger.sqlite-shm', 'audit.jsonl']) {
      expect({ file, mode: mode(join(dataDir, file)) }).toEqual({ file, mode: 0o600 });
    }
    const keys = readdirSync(join(dataDir, 'audit-keys')).filter((f) => f.endsWith('.private.jwk.json'));
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) expect(mode(join(dataDir, 'audit-keys', key))).toBe(0o600);
    expect(mode(join(dataDir, 'tsa', 'tsa.key'))).toBe(0o600);
  });
});
