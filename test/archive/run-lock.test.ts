import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { archiveLockPath, takeArchiveLock } from '../../src/archive/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const temp = makeTempDir('flaggate-archive-lock-');
afterAll(() => temp.cleanup());

describe('the archive run lock', () => {
  it('lets one run at a time archive a ledger, and the next once it is released', () => {
    const ledger = join(temp.dir, 'one.sqlite');
    const release = takeArchiveLock(ledger);
    expect(statSync(archiveLockPath(ledger)).mode & 0o777).toBe(0o600);
    expect(() => takeArchiveLock(ledger)).toThrow(expect.objectContaining({ code: 'ARCHIVE_BUSY', status: 503, details: { lock: archiveLockPath(ledger) } }));
    release();
    takeArchiveLock(ledger)();
  });

  it('is held by another process until it ends, and free once it is killed', async () => {
    const ledger = join(temp.dir, 'two.sqlite');
    const lockUrl = new URL('../../src/exclusive-lock.ts', import.meta.url).href;
    const holder = spawn(process.execPath, ['--import', 'tsx', '-e', `const { holdExclusive } = await import(${JSON.stringify(lockUrl)}); holdExclusive(${JSON.stringify(archiveLockPath(ledger))}, 0); console.log('held'); setInterval(() => {}, 1000);`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
        holder.on('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      expect(() => takeArchiveLock(ledger)).toThrow(expect.objectContaining({ code: 'ARCHIVE_BUSY' }));
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
      takeArchiveLock(ledger)();
    } finally {
      holder.kill('SIGKILL');
    }
  }, 30_000);
});
