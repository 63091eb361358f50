import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyring, openLedgerReader, signCheckpoint } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { openPostgresReader } from '../../src/replicate/index.js';
import { changeFlag, runCli, startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const chains = ['eu-west', 'us-east', 'ap-south'];
const changesEach = 8;
let cluster: PgCluster;
let url: string;
let db: LedgerDatabase;
const sidecars: SidecarProcess[] = [];
const dirs = chains.map(() => makeTempDir('flaggate-replica-'));

beforeAll(async () => {
  cluster = await startPostgres();
  // The administrator migrates as the owner and registers one login role per sidecar.
  db = await createLedgerDatabase(cluster, 'central');
  url = db.ownerUrl;
  sidecars.push(
    ...(await Promise.all(
      chains.map(async (chainId, i) =>
        startSidecarProcess({ dataDir: dirs[i]!.dir, chainId, env: { FLAGGATE_UPSTREAM_POSTGRES_URL: await db.writerUrl(chainId) } }),
      ),
    )),
  );
});
afterAll(async () => {
  await Promise.all(sidecars.map((s) => s.kill('SIGTERM')));
  await cluster?.stop();
  for (const d of dirs) d.cleanup();
});

describe('three sidecars sharing one PostgreSQL ledger', () => {
  it('replicate concurrent changes, each into its own chain, before applying them', async () => {
    await Promise.all(
      sidecars.map(async (s) => {
        const token = await s.token('riley', 'release_engineer');
        for (let n = 0; n < changesEach; n += 1) {
          const res = await changeFlag(s.proxyUrl, token, 'checkout.new-flow', n % 2 === 0, `rollout step ${n}`);
          expect(res.status, JSON.stringify(res.json)).toBe(200);
        }
      }),
    );
    const reader = openPostgresReader(url);
    try {
      const heads = await reader.chains();
      expect(heads.map((h) => h.chainId).sort()).toEqual([...chains].sort());
      for (const [i, chainId] of chains.entries()) {
        const local = openLedgerReader(`${dirs[i]!.dir}/ledger.sqlite`);
        try {
          // The last outcome is committed with the next group or within SOON_COMMIT_MS after its reply.
          let localRows = await local.read(0, 10_000);
          for (let t = 0; t < 100 && localRows.length < changesEach * 2; t += 1) {
            await new Promise((r) => setTimeout(r, 50));
            localRows = await local.read(0, 10_000);
          }
          expect(localRows.length).toBeGreaterThanOrEqual(changesEach * 2);
          // The last outcome goes upstream right after its reply, not before it: wait a bounded while.
          for (let t = 0; t < 100 && (await reader.reader(chainId)(0, 10_000)).length < localRows.length; t += 1) await new Promise((r) => setTimeout(r, 50));
          expect(await reader.reader(chainId)(0, 10_000)).toEqual(localRows);
        } finally {
          local.close();
        }
      }
    } finally {
      await reader.close();
    }
  });

  it('passes flaggate verify --postgres over every chain', async () => {
    const { code, stdout, stderr } = await runCli(['verify', '--postgres', url]);
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout) as { ok: boolean; chains: Array<{ chainId: string; ok: boolean; entries: number }> };
    expect(report.ok).toBe(true);
    expect(report.chains.map((c) => c.chainId).sort()).toEqual([...chains].sort());
    expect(report.chains.every((c) => c.ok && c.entries >= changesEach * 2)).toBe(true);
  });

  it('reports each sidecar in step with its upstream copy on /v1/audit/verify', async () => {
    for (const s of sidecars) {
      const token = await s.token('ada', 'auditor');
      const res = await fetch(`${s.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${token}` } });
      const body = (await res.json()) as { ok: boolean; upstream: Array<{ sink: string; ok: boolean }> };
      expect(res.status).toBe(200);
      // The JSON Lines stream in the data dir is an upstream copy too.
      expect(body).toMatchObject({ ok: true });
      expect(body.upstream).toEqual(expect.arrayContaining([expect.objectContaining({ sink: 'postgres', ok: true }), expect.objectContaining({ sink: 'jsonl', ok: true })]));
    }
  });

  it("refuses, at the database, one sidecar's login writing another's chain", async () => {
    const asEu = new pg.Client({ connectionString: await db.writerUrl('eu-west') });
    await asEu.connect();
    try {
      const head = (await asEu.query<{ seq: string; hash: string }>("SELECT seq, hash FROM flaggate.audit_entries WHERE chain_id = 'us-east' ORDER BY seq DESC LIMIT 1")).rows[0]!;
      await expect(
        asEu.query('INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body) VALUES ($1, $2, $3, $4, $5)', ['us-east', Number(head.seq) + 1, head.hash, 'a'.repeat(64), '{}']),
      ).rejects.toMatchObject({ code: '42501' });
    } finally {
      await asEu.end();
    }
  });

  it("names, from verify --postgres with each chain's keys, a checkpoint signed by another sidecar's key", async () => {
    const keyArgs = chains.flatMap((chainId, i) => ['--keys', `${chainId}=${dirs[i]!.dir}/audit-keys/keyring.json`]);
    const clean = await runCli(['verify', '--postgres', url, ...keyArgs]);
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
    // eu-west's key signs a checkpoint over us-east's true entry 2, stored behind the policy.
    const reader = openPostgresReader(url);
    const second = (await reader.reader('us-east')(1, 1))[0]!;
    await reader.close();
    const euKeys = await openKeyring(`${dirs[0]!.dir}/audit-keys`, systemClock);
    const forged = await signCheckpoint({ chainId: 'us-east', seq: 2, hash: second.hash, time: new Date().toISOString() }, euKeys);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws) VALUES ($1, $2, $3, $4, $5, $6)', [forged.chainId, forged.seq, forged.hash, forged.time, forged.kid, forged.jws]);
    } finally {
      await admin.end();
    }
    const { code, stdout } = await runCli(['verify', '--postgres', url, ...keyArgs]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { chains: Array<{ chainId: string; ok: boolean; failure?: { kind: string; seq: number } }> };
    expect(report.chains.filter((c) => !c.ok)).toMatchObject([{ chainId: 'us-east', failure: { kind: 'unknown_key', seq: 2 } }]);
    const pooled = await runCli(['verify', '--postgres', url, '--keys', `${dirs[0]!.dir}/audit-keys/keyring.json`]);
    expect(pooled).toMatchObject({ code: 2, stderr: expect.stringContaining('CHAIN=JWKS') });
  });

  it('exits 1 from verify --postgres when a row of one chain was edited behind the triggers', async () => {
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await admin.query(`UPDATE flaggate.audit_entries SET body = replace(body, 'rollout step 3', 'rollout step 9') WHERE chain_id = 'us-east'`);
      await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER USER');
    } finally {
      await admin.end();
    }
    const { code, stdout } = await runCli(['verify', '--postgres', url]);
    expect(code).toBe(1);
    const report = JSON.parse(stdout) as { ok: boolean; chains: Array<{ chainId: string; ok: boolean; failure?: { code: string } }> };
    expect(report.chains.filter((c) => !c.ok)).toMatchObject([{ chainId: 'us-east', failure: { code: 'AUDIT_CHAIN_BROKEN' } }]);
  });
});
