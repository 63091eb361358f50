import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPostgresReader } from '../../src/replicate/index.js';
import { changeFlag } from '../replicate/sidecar-process.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { createLedgerDatabase, startPostgres, type PgCluster } from '../support/postgres.js';

let cluster: PgCluster;
let url: string;
let writerUrl: string;
let app: TestFlaggate;
let release: string;

const flagFile = () => readFileSync(`${app.dataDir}/flags.flagd.json`);
const metric = async (name: string) => {
  const text = await (await fetch(`${app.controlUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{sink="postgres"}`));
  return line ? Number(line.split(' ').at(-1)) : undefined;
};

beforeAll(async () => {
  cluster = await startPostgres();
  const db = await createLedgerDatabase(cluster, 'outage');
  url = db.ownerUrl;
  writerUrl = await db.writerUrl('outage-1');
  app = await startTestFlaggate({ 'audit.chainId': 'outage-1' }, { FLAGGATE_UPSTREAM_POSTGRES_URL: writerUrl });
  release = await app.token('riley', 'release_engineer');
});
afterAll(async () => {
  await app?.stop();
  await cluster?.stop();
});

/** Outcome entries go upstream right after the reply, not before it: wait (a bounded while) for them. */
async function lagDrained(): Promise<void> {
  app.ledger.head(); // the last outcome, waiting for a group, is committed by a read through the sidecar
  for (let i = 0; i < 100 && ((await metric('flaggate_replicate_lag_entries')) ?? 1) > 0; i += 1) await new Promise((r) => setTimeout(r, 50));
}

describe('a required PostgreSQL sink going down mid-stream', () => {
  it('refuses every change during the outage, forwards none, and drains the backlog once it is back', async () => {
    let n = 0;
    const next = () => changeFlag(app.proxyUrl, release, 'checkout.new-flow', n % 2 === 0, `step ${n++}`);

    for (let i = 0; i < 4; i += 1) expect((await next()).status).toBe(200);
    await lagDrained();
    expect(await metric('flaggate_replicate_lag_entries')).toBe(0);

    await cluster.stopImmediate();
    const before = flagFile();
    const headBefore = app.ledger.head().seq;
    for (let i = 0; i < 4; i += 1) {
      const res = await next();
      expect(res.status).toBe(503);
      expect(res.json).toMatchObject({ code: 'REPLICATE_UNACKED', details: { sink: 'postgres' } });
      expect(res.retryAfter).toMatch(/^\d+$/);
      expect(flagFile()).toEqual(before);
    }
    // Each refusal is on record locally: its decision, then a not_forwarded outcome.
    const refused = app.ledger.entriesAfter(headBefore, 100);
    expect(refused.map((e) => [e.entry_type, e.outcome?.status ?? null])).toEqual(
      Array.from({ length: 4 }, () => [['change.decision', null], ['change.outcome', 'not_forwarded']]).flat(),
    );
    expect(refused.filter((e) => e.outcome).every((e) => e.outcome!.error_code === 'REPLICATE_UNACKED')).toBe(true);
    expect(await metric('flaggate_replicate_lag_entries')).toBe(refused.length);
    expect(await metric('flaggate_replicate_failures_total')).toBeGreaterThanOrEqual(4);

    await cluster.start();
    const res = await next();
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(flagFile()).not.toEqual(before);

    // The reply waited for the decision entry upstream; the outcome follows without holding the reply.
    await lagDrained();
    expect(await metric('flaggate_replicate_lag_entries')).toBe(0);
    const upstream = openPostgresReader(url);
    try {
      expect(await upstream.reader('outage-1')(0, 10_000)).toEqual(app.ledger.rowsAfter(0, 10_000));
    } finally {
      await upstream.close();
    }
  });

  it('reports a sidecar whose local chain was cut below the upstream copy, and refuses its changes', async () => {
    // A fresh data dir under the same chain id: as if the ledger had been restored from an old backup.
    const restored = await startTestFlaggate({ 'audit.chainId': 'outage-1' }, { FLAGGATE_UPSTREAM_POSTGRES_URL: writerUrl });
    try {
      const auditor = await restored.token('ada', 'auditor');
      const res = await fetch(`${restored.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
      expect(res.status).toBe(409);
      expect(await res.json()).toMatchObject({
        ok: false,
        failure: { kind: 'truncated', seq: 1 },
        upstream: expect.arrayContaining([expect.objectContaining({ sink: 'postgres', ok: false, kind: 'cut', local: { seq: 0, hash: expect.any(String) } })]),
      });
      // Refused before anything is appended: the restored ledger would otherwise fork the chain.
      const change = await changeFlag(restored.proxyUrl, await restored.token('riley', 'release_engineer'), 'checkout.new-flow', true, 'after restore');
      expect(change.status).toBe(503);
      expect(change.json).toMatchObject({ code: 'AUDIT_UPSTREAM_AHEAD' });
      expect(restored.ledger.head().seq).toBe(0);
    } finally {
      await restored.stop();
    }
  });
});
