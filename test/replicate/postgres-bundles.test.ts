/** The bundle archive upstream: every bundle in force stored in PostgreSQL by digest, append-only, and replayable from there. */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyBundle, ensureOpa } from '../policy/opa-bundle.js';
import { runCli } from './sidecar-process.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const allowAll = (tag: string) => `package flaggate.authz
decision := {"allow": true, "reasons": ["${tag}"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
`;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chainId = 'pg-bundles';

let cluster: PgCluster;
let db: LedgerDatabase;
let writerUrl: string;
let app: TestFlaggate | undefined;
const tmp = makeTempDir('flaggate-pg-bundles-');
let r1: Buffer;
let r2: Buffer;

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult<T>> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query<T>(sql, params);
  } finally {
    await client.end();
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (got !== undefined) return got;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function change(flag: string): Promise<number> {
  const res = await fetch(`${app!.proxyUrl}/flags/${flag}/enable`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await app!.token('riley', 'release_engineer')}`, 'x-flaggate-reason': 'bundles upstream', 'x-flaggate-ticket': 'CHG-2' },
  });
  await res.arrayBuffer();
  return res.status;
}

beforeAll(async () => {
  ensureOpa();
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'bundles');
  writerUrl = await db.writerUrl(chainId);
  for (const name of ['r1', 'r2']) mkdirSync(join(tmp.dir, name), { recursive: true });
  r1 = readFileSync(buildTinyBundle(join(tmp.dir, 'r1'), { rego: allowAll('pg-1'), revision: 'pg-1' }));
  r2 = readFileSync(buildTinyBundle(join(tmp.dir, 'r2'), { rego: allowAll('pg-2'), revision: 'pg-2' }));
}, 120_000);

afterAll(async () => {
  await app?.stop().catch(() => undefined);
  await cluster?.stop();
  tmp.cleanup();
});

describe('the bundle archive in PostgreSQL', () => {
  it('stores every bundle ever in force, by digest, written by the chain\'s own role; a replay runs from PostgreSQL alone once the data dir is lost', async () => {
    const live = join(tmp.dir, 'live.tar.gz');
    writeFileSync(live, r1);
    app = await startTestFlaggate({ 'audit.chainId': chainId, 'policy.bundle': live, 'policy.watchIntervalMs': 3_600_000 }, { FLAGGATE_UPSTREAM_POSTGRES_URL: writerUrl });
    expect(await change('checkout.new-flow')).toBe(200);
    writeFileSync(live, r2);
    await app.reloadPolicy();
    expect(await change('search.ranking-v2')).toBe(200);

    const rows = await until('both bundles upstream', async () => {
      const { rows } = await query<{ sha256: string; bytes: Buffer; chain_id: string; written_by: string }>(db.ownerUrl, 'SELECT sha256, bytes, chain_id, written_by FROM flaggate.policy_bundles ORDER BY received_at');
      return rows.length === 2 ? rows : undefined;
    });
    expect(rows.map((r) => r.sha256).sort()).toEqual([sha256(r1), sha256(r2)].sort());
    for (const r of rows) {
      expect(sha256(r.bytes)).toBe(r.sha256);
      expect(r).toMatchObject({ chain_id: chainId, written_by: 'fg_pg_bundles' });
    }

    // The data dir is lost: PostgreSQL alone replays every decision with the bundle that made it.
    const ledgerCopy = join(tmp.dir, 'ledger-copy.sqlite');
    await app.close();
    copyFileSync(join(app.dataDir, 'ledger.sqlite'), ledgerCopy);
    rmSync(app.dataDir, { recursive: true, force: true });
    app = undefined;
    const fromPg = await runCli(['replay', '--postgres', db.ownerUrl, '--chain', chainId, '--json']);
    expect(fromPg.code, fromPg.stderr).toBe(0);
    const report = JSON.parse(fromPg.stdout) as { decisions: number; agreed: number; disagreements: unknown[] };
    expect(report.decisions).toBeGreaterThanOrEqual(2);
    expect(report).toMatchObject({ agreed: report.decisions, disagreements: [] });

    // A ledger copy without its archive: the bundles come from PostgreSQL; without it, they are missing.
    const emptyArchive = join(tmp.dir, 'no-archive');
    mkdirSync(emptyArchive);
    const withPg = await runCli(['replay', '--db', ledgerCopy, '--archive', emptyArchive, '--postgres', db.ownerUrl, '--json']);
    expect(withPg.code, withPg.stderr).toBe(0);
    const without = await runCli(['replay', '--db', ledgerCopy, '--archive', emptyArchive, '--json']);
    expect(without.code).toBe(1);
    expect(without.stdout).toContain('bundle_missing');
  }, 180_000);

  it('is append-only for the writer: no update, no delete, no row under a digest its bytes do not have, none for another chain; a bundle stored again is a no-op', async () => {
    const bytes = Buffer.from('not a bundle, but bytes with a digest');
    // The writer holds no UPDATE, DELETE or TRUNCATE privilege; behind that, the triggers refuse even the owner.
    for (const sql of ['UPDATE flaggate.policy_bundles SET chain_id = chain_id', 'DELETE FROM flaggate.policy_bundles', 'TRUNCATE flaggate.policy_bundles']) {
      await expect(query(writerUrl, sql)).rejects.toMatchObject({ code: '42501' });
      await expect(query(db.ownerUrl, sql)).rejects.toMatchObject({ code: 'FGA01', message: expect.stringContaining('flaggate.policy_bundles is append-only') });
    }
    await expect(query(writerUrl, 'INSERT INTO flaggate.policy_bundles (sha256, bytes, chain_id) VALUES ($1, $2, $3)', [sha256(r1).replace(/^./, (c) => (c === '0' ? '1' : '0')), r1, chainId])).rejects.toMatchObject({ code: '23514' });
    await expect(query(writerUrl, 'INSERT INTO flaggate.policy_bundles (sha256, bytes, chain_id) VALUES ($1, $2, $3)', [sha256(bytes), bytes, 'someone-else'])).rejects.toMatchObject({ code: '42501' });
    await expect(query(writerUrl, 'INSERT INTO flaggate.policy_bundles (sha256, bytes, chain_id, written_by) VALUES ($1, $2, $3, $4)', [sha256(bytes), bytes, chainId, 'postgres'])).rejects.toMatchObject({ code: '42501' });
    const again = await query(writerUrl, 'INSERT INTO flaggate.policy_bundles (sha256, bytes, chain_id) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [sha256(r1), r1, chainId]);
    expect(again.rowCount).toBe(0);
    const { rows } = await query<{ n: string }>(db.ownerUrl, 'SELECT count(*) AS n FROM flaggate.policy_bundles');
    expect(Number(rows[0]!.n)).toBe(2);
  });
});
