/**
 * A full disk under a running sidecar: changes are refused with a clear code and Retry-After, nothing
 * is forwarded, nothing stored is corrupted; once space returns new changes go through and the
 * chain verifies. The disk is a small tmpfs mounted for the test (root); where mounting is not
 * allowed, the sidecar runs as a child whose file-size limit (RLIMIT_FSIZE, via prlimit) stands in
 * for the full disk. The test is skipped, saying why, only when neither is possible.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { makeTempDir } from '../support/temp-dir.js';

interface Squeezed {
  how: string;
  dataDir: string;
  proxyUrl: string;
  controlUrl: string;
  /** Codes a write may be refused with while the disk is full. */
  fullCodes: string[];
  fill(): void;
  free(): void;
  stop(): Promise<void>;
}

const tmp = makeTempDir('flaggate-diskfull-');
let squeezed: Squeezed | undefined;
let skipReason: string | undefined;

function tryMountTmpfs(dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Writes a filler file until the filesystem refuses one more byte. */
function fillDisk(path: string): void {
  const fd = openSync(path, 'w');
  try {
    for (let chunk = 1 << 20; chunk >= 1; ) {
      try {
        writeSync(fd, Buffer.alloc(chunk));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        chunk >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
}

async function startOnTmpfs(dir: string): Promise<Squeezed> {
  const config = loadConfig({ env: {}, overrides: { dataDir: dir, proxyPort: 0, controlPort: 0 } });
  const app: Flaggate = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });
  const filler = `${dir}/filler`;
  return {
    how: 'a 24 MB tmpfs, filled',
    dataDir: dir,
    proxyUrl: app.proxyUrl,
    controlUrl: app.controlUrl,
    fullCodes: ['AUDIT_DISK_FULL'],
    fill: () => fillDisk(filler),
    free: () => unlinkSync(filler),
    async stop() {
      await app.close();
      execFileSync('umount', [dir]);
    },
  };
}

async function startWithFileSizeLimit(dir: string): Promise<Squeezed> {
  const child: SidecarProcess = await startSidecarProcess({ dataDir: dir, chainId: 'local' });
  const largest = () => Math.max(...['ledger.sqlite', 'ledger.sqlite-wal', 'audit.jsonl'].map((f) => statSync(`${dir}/${f}`, { throwIfNoEntry: false })?.size ?? 0));
  return {
    how: 'a child process whose file-size limit is its largest file',
    dataDir: dir,
    proxyUrl: child.proxyUrl,
    controlUrl: child.controlUrl,
    // A write cut short is SQLITE_FULL; one refused whole (EFBIG) is an I/O error to SQLite.
    fullCodes: ['AUDIT_DISK_FULL', 'AUDIT_WRITE_FAILED'],
    fill: () => execFileSync('prlimit', ['--pid', String(child.pid), `--fsize=${largest()}:unlimited`]),
    free: () => execFileSync('prlimit', ['--pid', String(child.pid), '--fsize=unlimited:unlimited']),
    stop: () => child.kill('SIGTERM'),
  };
}

beforeAll(async () => {
  if (process.env.DISK_FULL_MODE !== 'fsize' && tryMountTmpfs(tmp.dir)) squeezed = await startOnTmpfs(tmp.dir);
  else if (hasPrlimit()) squeezed = await startWithFileSizeLimit(tmp.dir);
  else skipReason = 'neither a tmpfs mount nor prlimit is available here: the full-disk test needs one of them';
}, 90_000);

afterAll(async () => {
  await squeezed?.stop();
  rmSync(tmp.dir, { recursive: true, force: true });
}, 30_000);

describe('a full disk', () => {
  it('refuses changes with a clear code, forwards and corrupts nothing, and recovers when space returns', async (ctx) => {
    if (!squeezed) {
      console.warn(`skipped: ${skipReason}`);
      ctx.skip();
      return;
    }
    const s = squeezed;
    console.log(`full disk simulated by ${s.how}`);
    const token = (sub: string, role: string) => mintDevToken({ dataDir: s.dataDir, sub, roles: [role], clock: systemClock });
    const [release, qa, auditor] = await Promise.all([token('riley', 'release_engineer'), token('quinn', 'qa'), token('ada', 'auditor')]);
    const write = async (path: string, t: string) => {
      const res = await fetch(s.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${t}`, 'x-flaggate-reason': 'disk test', 'x-flaggate-ticket': 'CHG-1' } });
      const body = (await res.json()) as { code?: string };
      return { status: res.status, code: body.code, retryAfter: res.headers.get('retry-after') };
    };
    const flagState = () => (JSON.parse(readFileSync(`${s.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, { state: string }> }).flags['checkout.new-flow']!.state;

    expect((await write('/flags/checkout.new-flow/enable', release)).status).toBe(200);
    expect(flagState()).toBe('ENABLED');

    s.fill();
    try {
      for (let i = 0; i < 3; i += 1) {
        const refused = await write('/flags/checkout.new-flow/disable', release);
        expect(refused.status).toBe(503);
        expect(s.fullCodes, `refused with ${refused.code}`).toContain(refused.code);
        expect(refused.retryAfter).not.toBeNull();
        expect(flagState()).toBe('ENABLED'); // not forwarded
      }
      // A refusal that cannot be recorded is not given as a plain 403 either: it fails closed.
      expect((await write('/flags/checkout.new-flow/disable', qa)).status).toBe(503);
    } finally {
      s.free();
    }

    const applied = await write('/flags/checkout.new-flow/disable', release);
    expect(applied.status).toBe(200);
    expect(flagState()).toBe('DISABLED');

    const verify = await fetch(`${s.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
    const db = new Database(`${s.dataDir}/ledger.sqlite`, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
    // Every line of the JSON Lines stream is whole.
    const lines = readFileSync(`${s.dataDir}/audit.jsonl`, 'utf8').split('\n');
    expect(lines.at(-1)).toBe('');
    for (const line of lines.slice(0, -1)) expect(() => JSON.parse(line)).not.toThrow();
  }, 60_000);
});
