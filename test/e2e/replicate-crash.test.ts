import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader } from '../../src/audit/index.js';
import { openPostgresReader } from '../../src/replicate/index.js';
import { changeFlag, runCli, startSidecarProcess, type SidecarProcess } from '../replicate/sidecar-process.js';
import { createLedgerDatabase, startPostgres, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const chainId = 'crashy';
let cluster: PgCluster;
let url: string;
let writerUrl: string;
const dir = makeTempDir('flaggate-crash-');
let sidecar: SidecarProcess | undefined;

const start = () => startSidecarProcess({ dataDir: dir.dir, chainId, env: { FLAGGATE_UPSTREAM_POSTGRES_URL: writerUrl } });
const upstreamCount = async (admin: pg.Client) =>
  Number((await admin.query<{ n: string }>('SELECT count(*) AS n FROM flaggate.audit_entries WHERE chain_id = $1', [chainId])).rows[0]!.n);
const localRows = async () => {
  const r = openLedgerReader(`${dir.dir}/ledger.sqlite`);
  try {
    return await r.read(0, 100_000);
  } finally {
    r.close();
  }
};

beforeAll(async () => {
  cluster = await startPostgres();
  const db = await createLedgerDatabase(cluster, 'crash');
  url = db.ownerUrl;
  writerUrl = await db.writerUrl(chainId);
});
afterAll(async () => {
  await sidecar?.kill('SIGTERM');
  await cluster?.stop();
  dir.cleanup();
});

describe('a sidecar killed with SIGKILL while replicating', () => {
  it('catches up after a restart on the same data dir, with no duplicate and no gap upstream', async () => {
    sidecar = await start();
    const token = await sidecar.token('riley', 'release_engineer');
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      // A burst of concurrent changes; the kill lands while some are recorded and not yet upstream.
      const burst = Array.from({ length: 60 }, (_, n) =>
        changeFlag(sidecar!.proxyUrl, token, `burst.flag-${n % 5}`, n % 2 === 0, `burst ${n}`).catch(() => ({ status: 0 })),
      );
      for (let i = 0; i < 2000 && (await upstreamCount(admin).catch(() => 0)) < 2; i += 1) await new Promise((r) => setTimeout(r, 5));
      await sidecar.kill('SIGKILL');
      await Promise.all(burst);
      const atKill = await upstreamCount(admin);
      expect(atKill).toBeGreaterThan(0);

      sidecar = await start();
      // The restarted sidecar drains what the killed one left, without waiting for a new change.
      const local = await localRows();
      for (let i = 0; i < 300 && (await upstreamCount(admin)) < local.length; i += 1) await new Promise((r) => setTimeout(r, 50));
      const upstream = openPostgresReader(url);
      try {
        expect(await upstream.reader(chainId)(0, 100_000)).toEqual(await localRows());
      } finally {
        await upstream.close();
      }

      const after = await changeFlag(sidecar.proxyUrl, token, 'checkout.new-flow', true, 'after the crash');
      expect(after.status, JSON.stringify(after.json)).toBe(200);
      const verify = await runCli(['verify', '--postgres', url]);
      expect(verify.code, verify.stdout + verify.stderr).toBe(0);
      const report = JSON.parse(verify.stdout) as { chains: Array<{ chainId: string; entries: number }> };
      expect(report.chains).toMatchObject([{ chainId, entries: (await localRows()).length }]);
    } finally {
      await admin.end();
    }
  });
});
