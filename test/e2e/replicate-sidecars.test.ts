import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { openPostgresReader } from '../../src/replicate/index.js';
import { changeFlag, runCli, startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const chains = ['eu-west', 'us-east', 'ap-south'];
const changesEach = 8;
let cluster: PgCluster;
let url: string;
const sidecars: SidecarProcess[] = [];
const dirs = chains.map(() => makeTempDir('flaggate-replica-'));

beforeAll(async () => {
  cluster = await startPostgres();
  url = await cluster.createDatabase('central');
  sidecars.push(
    ...(await Promise.all(
      chains.map((chainId, i) => startSidecarProcess({ dataDir: dirs[i]!.dir, chainId, env: { FLAGGATE_UPSTREAM_POSTGRES_URL: url } })),
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
          const localRows = await local.read(0, 10_000);
          expect(localRows.length).toBeGreaterThanOrEqual(changesEach * 2);
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
