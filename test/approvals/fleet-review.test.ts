import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresChangeStore } from '../../src/approvals/index.js';
import { createReviewLock } from '../../src/approvals/review-lock.js';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

// Monday 2030-01-07 10:00 UTC: inside the default business hours.
const NOW_MS = Date.UTC(2030, 0, 7, 10);
const CRITICAL = '/flags/payments.instant-payouts/enable';
const CHAINS = ['eu-a', 'eu-b'] as const;

interface Replica {
  app: Flaggate;
  token(sub: string, ...roles: string[]): Promise<string>;
}

let cluster: PgCluster;
let db: LedgerDatabase;
const replicas: Replica[] = [];
const temp = makeTempDir('flaggate-fleet-review-');

/** Two sidecars of one fleet: one flag file, one PostgreSQL ledger and change store, each the other's peer. */
beforeAll(async () => {
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'fleet');
  // One after the other: the first seeds the shared flag file.
  for (const [i, chainId] of CHAINS.entries()) {
    const dataDir = join(temp.dir, chainId);
    const clock = fixedClock(NOW_MS);
    const config = loadConfig({
      env: {},
      overrides: {
        dataDir,
        proxyPort: 0,
        controlPort: 0,
        'audit.chainId': chainId,
        'platform.targetUrl': join(temp.dir, 'flags.flagd.json'),
        'replicate.sinks': [{ type: 'postgres', name: 'central', url: await db.writerUrl(chainId), required: true }],
        'approvals.store': 'postgres',
        'approvals.peerChains': [CHAINS[1 - i]!],
      },
    });
    const app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
    replicas.push({ app, token: (sub, ...roles) => mintDevToken({ dataDir, sub, roles, clock, ttlSeconds: 7 * 24 * 3600 }) });
  }
}, 120_000);
afterAll(async () => {
  await Promise.all(replicas.map((r) => r.app.close()));
  await cluster?.stop();
  temp.cleanup();
});

async function approve(r: Replica, id: string, token: string) {
  const res = await fetch(`${r.app.controlUrl}/v1/changes/${id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function approvedEntries(id: string) {
  return replicas.flatMap((r) =>
    (r.app.ledger.entriesAfter(0, 10_000) as unknown as Array<{ change_request_id?: string; entry_type: string; decision: { allow: boolean; error_code?: string | null } }>).filter(
      (e) => e.change_request_id === id && e.entry_type === 'change.approved',
    ),
  );
}

describe('one review of a change at a time across a fleet sharing PostgreSQL', () => {
  it('records one accepted approval when the same person approves through both sidecars at once', async () => {
    const [a, b] = replicas as [Replica, Replica];
    for (let round = 0; round < 3; round += 1) {
      const res = await fetch(a.app.proxyUrl + CRITICAL, {
        method: 'POST',
        headers: { authorization: `Bearer ${await a.token('rita', 'release_engineer')}`, 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9' },
      });
      expect(res.status).toBe(202);
      const id = String(((await res.json()) as { changeRequestId: string }).changeRequestId);
      const [viaA, viaB] = await Promise.all([a.token('sam', 'release_engineer'), b.token('sam', 'release_engineer')]);
      const results = await Promise.all([approve(a, id, viaA), approve(b, id, viaB)]);
      // The critical flag takes one approval: one review applies it; the other, after it, finds the
      // change applied (or, had it come between the row and the apply, sam's row).
      expect(results.map((r) => r.status).sort(), JSON.stringify(results)).toEqual([200, 409]);
      const refused = String(results.find((r) => r.status === 409)!.json.code);
      expect(['CHANGE_NOT_PENDING', 'APPROVAL_DUPLICATE']).toContain(refused);
      const steps = approvedEntries(id);
      expect(steps.filter((e) => e.decision.allow)).toHaveLength(1);
      // A change no longer pending is refused before anything is recorded; a duplicate is recorded as refused.
      expect(steps.filter((e) => !e.decision.allow).map((e) => e.decision.error_code)).toEqual(refused === 'APPROVAL_DUPLICATE' ? [refused] : []);
      // Back to disabled for the next round.
      const off = await fetch(a.app.proxyUrl + '/flags/payments.instant-payouts/disable', {
        method: 'POST',
        headers: { authorization: `Bearer ${await a.token('rita', 'release_engineer')}`, 'x-flaggate-reason': 'reset', 'x-flaggate-ticket': 'CHG-9' },
      });
      expect([200, 202]).toContain(off.status);
    }
  });
});

describe('the PostgreSQL review lock', () => {
  it('runs reviews of one change one after another across stores, and reviews of other changes beside them', async () => {
    const [a, b] = CHAINS.map((chainId, i) => openPostgresChangeStore({ url: db.ownerUrl, chainId, peerChains: [CHAINS[1 - i]!] }));
    try {
      const log: string[] = [];
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const first = a!.reviewing('cr-1', async () => {
        log.push('a:start');
        await held;
        log.push('a:end');
      });
      await new Promise((r) => setTimeout(r, 100));
      const second = b!.reviewing('cr-1', async () => void log.push('b:cr-1'));
      await b!.reviewing('cr-2', async () => void log.push('b:cr-2'));
      await new Promise((r) => setTimeout(r, 100));
      expect(log).toEqual(['a:start', 'b:cr-2']);
      release();
      await Promise.all([first, second]);
      expect(log).toEqual(['a:start', 'b:cr-2', 'a:end', 'b:cr-1']);
      // A review that fails still lets the next one in.
      await expect(a!.reviewing('cr-1', async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
      await expect(b!.reviewing('cr-1', async () => 'next')).resolves.toBe('next');
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  it('gives up on a review held elsewhere past its wait as CONTROL_BUSY, and takes the lock once it is free', async () => {
    const [holder, waiter] = [createReviewLock({ url: db.ownerUrl }), createReviewLock({ url: db.ownerUrl, waitMs: 200 })];
    try {
      let release!: () => void;
      const held = holder.holding('cr-9', () => new Promise<void>((r) => (release = r)));
      await new Promise((r) => setTimeout(r, 100));
      await expect(waiter.holding('cr-9', async () => 'ran')).rejects.toMatchObject({ code: 'CONTROL_BUSY' });
      release();
      await held;
      await expect(waiter.holding('cr-9', async () => 'ran')).resolves.toBe('ran');
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  it('lets a review of another change in at once while reviews wait for locks held elsewhere', async () => {
    const [holder, waiter] = [createReviewLock({ url: db.ownerUrl }), createReviewLock({ url: db.ownerUrl, waitMs: 3_000 })];
    try {
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      const holding = Array.from({ length: 8 }, (_, i) => holder.holding(`busy-${i}`, () => held));
      await new Promise((r) => setTimeout(r, 200));
      const waiting = Array.from({ length: 8 }, (_, i) => waiter.holding(`busy-${i}`, async () => 'ran'));
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      await expect(waiter.holding('unrelated', async () => 'ran')).resolves.toBe('ran');
      expect(Date.now() - started).toBeLessThan(2_000);
      release();
      await Promise.all(holding);
      await expect(Promise.all(waiting)).resolves.toEqual(Array(8).fill('ran'));
    } finally {
      await Promise.all([holder.close(), waiter.close()]);
    }
  });

  it('refuses to record once its session is gone (a restart, a terminated backend), and lets the next review in', async () => {
    const [a, b] = [createReviewLock({ url: db.ownerUrl }), createReviewLock({ url: db.ownerUrl })];
    const admin = new pg.Client({ connectionString: db.ownerUrl });
    await admin.connect();
    try {
      const run = a.holding('cr-lost', async ({ confirmHeld, write }) => {
        await confirmHeld();
        expect(await write('SELECT 1 UNION ALL SELECT 2', [])).toBe(2);
        await admin.query("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()");
        await new Promise((r) => setTimeout(r, 100));
        // A row written under the lock goes in on its session: with the session, nothing is written.
        await expect(write("SELECT 'a row'", [])).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED', message: expect.stringContaining('was lost') });
        await confirmHeld();
        return 'recorded';
      });
      await expect(run).rejects.toMatchObject({ code: 'AUDIT_WRITE_FAILED', message: expect.stringContaining('was lost') });
      await expect(b.holding('cr-lost', async () => 'next')).resolves.toBe('next');
    } finally {
      await admin.end();
      await Promise.all([a.close(), b.close()]);
    }
  });
});
