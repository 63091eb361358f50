import { spawnSync } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
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
    expect(() => takeArchiveLock(ledger)).toThrow(expect.objectContaining({ code: 'ARCHIVE_BUSY', status: 503, details: { lock: archiveLockPath(ledger), pid: process.pid } }));
    release();
    expect(existsSync(archiveLockPath(ledger))).toBe(false);
    takeArchiveLock(ledger)();
  });

  it('takes over a lock whose run is gone (killed mid-way), and only that', () => {
    const ledger = join(temp.dir, 'two.sqlite');
    // A pid that was a process and is not any more.
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(archiveLockPath(ledger), `${gone.stdout}\n`);
    const release = takeArchiveLock(ledger);
    release();
    // A lock that names no process at all is not taken over: it may be a run's, half written.
    writeFileSync(archiveLockPath(ledger), '');
    expect(() => takeArchiveLock(ledger)).toThrow(expect.objectContaining({ code: 'ARCHIVE_BUSY' }));
  });

  it("does not remove another run's lock on release", () => {
    const ledger = join(temp.dir, 'three.sqlite');
    const release = takeArchiveLock(ledger);
    writeFileSync(archiveLockPath(ledger), '1\n');
    release();
    expect(existsSync(archiveLockPath(ledger))).toBe(true);
  });
});
