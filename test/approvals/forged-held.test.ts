/**
 * Someone who can write the change tables (a sidecar's database login, a shared store) but not
 * the ledger forges or edits held changes. None may be applied: at apply the stored bytes are
 * classified again, and the row must be the one its `change.requested` entry recorded.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { makeTempDir } from '../support/temp-dir.js';

const NOW_MS = Date.UTC(2030, 0, 7, 10); // a Monday, inside business hours
const CRITICAL = '/flags/payments.instant-payouts/enable';
const context = { 'x-flaggate-reason': 'payouts launch', 'x-flaggate-ticket': 'CHG-9' };

let app: Flaggate;
let dataDir: string;
let cleanup: () => void;
const clock = fixedClock(NOW_MS);
const token = (sub: string, ...roles: string[]) => mintDevToken({ dataDir, sub, roles, clock, ttlSeconds: 24 * 3600 });

beforeAll(async () => {
  const tmp = makeTempDir('flaggate-forged-');
  ({ dir: dataDir, cleanup } = tmp);
  const config = loadConfig({ env: {}, overrides: { dataDir, proxyPort: 0, controlPort: 0, 'approvals.expirySeconds': 3600 } });
  app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
});
afterAll(async () => {
  await app.close();
  cleanup();
});

function flagState(key = 'payments.instant-payouts'): string | undefined {
  const file = JSON.parse(readFileSync(join(dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> };
  return file.flags[key]?.state;
}

/** The change tables as an attacker with write access to them sees them. */
function tables<T>(work: (db: Database.Database) => T): T {
  const db = new Database(app.ledger.path);
  try {
    return work(db);
  } finally {
    db.close();
  }
}

async function hold(sub = 'rita', path = CRITICAL): Promise<string> {
  const res = await fetch(app.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${await token(sub, 'release_engineer')}`, ...context } });
  expect(res.status).toBe(202);
  return String(((await res.json()) as { changeRequestId: string }).changeRequestId);
}

async function approve(id: string, sub: string) {
  const res = await fetch(`${app.controlUrl}/v1/changes/${id}/approve`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await token(sub, 'release_engineer')}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason: 'ok' }),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function ledgerOf(id: string) {
  return app.ledger.entriesAfter(0, 100_000).filter((e) => e.change_request_id === id);
}

describe('a held change whose row was forged or edited', () => {
  beforeEach(() => {
    expect(flagState()).toBe('DISABLED');
  });

  it('refuses a row inserted without its change.requested entry, even approved by someone else', async () => {
    const genuine = await hold('rita');
    const forged = randomUUID();
    // A copy of a genuine row under a new id, claiming requester sam: riley (not sam) approves it.
    tables((db) => {
      const row = db.prepare('SELECT * FROM change_requests WHERE id = ?').get(genuine) as Record<string, unknown>;
      const requester = JSON.stringify({ id: 'sam', displayName: 'sam', authMethod: 'jwt', roles: ['release_engineer'] });
      db.prepare(`INSERT INTO change_requests SELECT @forged, decision_id, status, created_at, expires_at, @requester, method, path, headers, body, body_sha256, change, context, required, approver_roles, held_by FROM change_requests WHERE id = @genuine`).run({ forged, requester, genuine });
      expect(row.status).toBe('pending');
    });
    const res = await approve(forged, 'riley');
    expect(res).toMatchObject({ status: 409, json: { code: 'CHANGE_TAMPERED' } });
    expect(flagState()).toBe('DISABLED');
    const recorded = ledgerOf(forged);
    expect(recorded.length).toBeGreaterThan(0);
    expect(recorded.every((e) => e.decision.allow === false && e.decision.error_code === 'CHANGE_TAMPERED')).toBe(true);
  });

  it('refuses a genuine row whose stored request was swapped for another write', async () => {
    const id = await hold('rita');
    tables((db) => db.prepare('UPDATE change_requests SET path = ? WHERE id = ?').run('/flags/payments.instant-payouts/disable', id));
    const res = await approve(id, 'sam');
    expect(res).toMatchObject({ status: 409, json: { code: 'CHANGE_TAMPERED' } });
    expect(flagState()).toBe('DISABLED');
    expect(ledgerOf(id).filter((e) => e.entry_type === 'change.outcome')).toEqual([]);
  });

  it('takes the requester from the ledger: a row rewritten to name someone else cannot be self-approved', async () => {
    const id = await hold('rita');
    tables((db) => db.prepare('UPDATE change_requests SET requester = ? WHERE id = ?').run(JSON.stringify({ id: 'sam', displayName: 'sam', authMethod: 'jwt', roles: ['release_engineer'] }), id));
    const res = await approve(id, 'rita');
    expect(res).toMatchObject({ status: 403, json: { code: 'APPROVAL_SELF' } });
    expect(flagState()).toBe('DISABLED');
  });

  it('refuses an approval row that has no entry of its own', async () => {
    // Two approvals needed would let a forged one count; with one needed, a forged approval row
    // from "sam" plus a real one is still judged by entries only.
    const id = await hold('rita');
    tables((db) => db.prepare('INSERT INTO change_approvals (change_request_id, approver_id, roles, approved_at, reason, proof) VALUES (?, ?, ?, ?, ?, ?)').run(id, 'mallory', '["release_engineer"]', new Date(NOW_MS).toISOString(), null, null));
    const res = await approve(id, 'sam');
    expect(res).toMatchObject({ status: 409, json: { code: 'CHANGE_TAMPERED' } });
    expect(flagState()).toBe('DISABLED');
  });

  it('refuses a row rewritten to say another chain held it (the change.requested entry says which did)', async () => {
    const id = await hold('rita');
    tables((db) => {
      const { held_by } = db.prepare<[string], { held_by: string }>('SELECT held_by FROM change_requests WHERE id = ?').get(id)!;
      db.prepare('UPDATE change_requests SET held_by = ? WHERE id = ?').run(JSON.stringify({ ...(JSON.parse(held_by) as object), chainId: 'elsewhere' }), id);
    });
    const res = await approve(id, 'sam');
    expect(res).toMatchObject({ status: 409, json: { code: 'CHANGE_TAMPERED' } });
    expect(flagState()).toBe('DISABLED');
  });

  it('refuses, without settling it, a held change whose row names another platform target', async () => {
    const id = await hold('rita');
    tables((db) => {
      const { held_by } = db.prepare<[string], { held_by: string }>('SELECT held_by FROM change_requests WHERE id = ?').get(id)!;
      db.prepare('UPDATE change_requests SET held_by = ? WHERE id = ?').run(JSON.stringify({ ...(JSON.parse(held_by) as object), targetSha256: 'ab'.repeat(32) }), id);
    });
    const res = await approve(id, 'sam');
    expect(res).toMatchObject({ status: 409, json: { code: 'CHANGE_HELD_ELSEWHERE', details: { reason: 'target' } } });
    expect(flagState()).toBe('DISABLED');
    expect(tables((db) => db.prepare<[string], { status: string }>('SELECT status FROM change_requests WHERE id = ?').get(id)!.status)).toBe('pending');
  });

  it('still applies an untouched held change', async () => {
    const id = await hold('rita');
    const res = await approve(id, 'sam');
    expect(res).toMatchObject({ status: 200, json: { status: 'applied' } });
    expect(flagState()).toBe('ENABLED');
  });
});

// A crash mid-forward, or a store that failed once the platform answered, leaves a released change
// `applying` for good; the ledger's outcome entry (written live, or by the in-doubt reconciliation
// at start-up) says what became of it.
describe('a held change left applying', () => {
  const statusOf = (id: string) => tables((db) => db.prepare<[string], { status: string }>('SELECT status FROM change_requests WHERE id = ?').get(id)!.status);
  const listed = async (status: string) => {
    const res = await fetch(`${app.controlUrl}/v1/changes?status=${status}`, { headers: { authorization: `Bearer ${await token('sam', 'release_engineer')}` } });
    return ((await res.json()) as { changes: Array<{ id: string }> }).changes.map((c) => c.id);
  };

  it('takes the status its outcome entry proves at the next listing; without an outcome entry it stays applying', async () => {
    const path = flagState() === 'ENABLED' ? CRITICAL.replace(/enable$/, 'disable') : CRITICAL;
    const applied = await hold('rita', path);
    expect(await approve(applied, 'sam')).toMatchObject({ status: 200, json: { status: 'applied' } });
    expect(ledgerOf(applied).filter((e) => e.entry_type === 'change.outcome').map((e) => e.outcome?.status)).toEqual(['applied']);
    // Released, with no decision recorded yet: nothing proves what became of it.
    const released = await hold('rita', path);
    tables((db) => db.prepare("UPDATE change_requests SET status = 'applying' WHERE id IN (?, ?)").run(applied, released));

    expect(await listed('applying')).toEqual([released]);
    expect(statusOf(applied)).toBe('applied');
    expect(statusOf(released)).toBe('applying');
  });
});
