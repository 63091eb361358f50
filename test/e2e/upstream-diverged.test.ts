import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { chainHash } from '../../src/audit/hash-entry.js';
import { changeFlag } from '../replicate/sidecar-process.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';

let cluster: PgCluster;
let db: LedgerDatabase;
let app: TestFlaggate;

beforeAll(async () => {
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'diverged');
  await db.writerUrl('div-a'); // the other sidecar of the fleet
  app = await startTestFlaggate({ 'audit.chainId': 'div-b' }, { FLAGGATE_UPSTREAM_POSTGRES_URL: await db.writerUrl('div-b') });
}, 120_000);
afterAll(async () => {
  await app?.stop();
  await cluster?.stop();
});

/** The ready answer, polled until it turns (the comparison is refreshed every few seconds). */
async function readyWhen(ok: boolean): Promise<{ status: number; body: { ready: boolean; checks: Record<string, { ok: boolean; code?: string; detail?: string }> } }> {
  for (let i = 0; ; i += 1) {
    const res = await fetch(`${app.controlUrl}/readyz`);
    const body = (await res.json()) as { ready: boolean; checks: Record<string, { ok: boolean; code?: string; detail?: string }> };
    if (body.ready === ok || i >= 100) return { status: res.status, body };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a sidecar whose upstream copy diverges from its local chain', () => {
  it('turns not ready with AUDIT_CHAIN_BROKEN, naming the chain of the role that wrote the other entry', { timeout: 30_000 }, async () => {
    const release = await app.token('riley', 'release_engineer');
    for (const on of [true, false]) expect((await changeFlag(app.proxyUrl, release, 'checkout.new-flow', on, 'rollout')).status).toBe(200);
    expect((await readyWhen(true)).status).toBe(200);

    // div-a's role wrote div-b's next entry, as it could before row-level security: simulated by
    // the owner, with the link trigger (which records the writer) lifted for the one row.
    const head = app.ledger.head();
    const { hash: _h, ...body } = { ...app.ledger.entriesAfter(head.seq - 1, 1)[0]!, seq: head.seq + 1, prev_hash: head.hash, chain_id: 'div-a', reason: 'written by another sidecar' };
    const hash = chainHash(head.hash, canonicalJson(body));
    const admin = new pg.Client({ connectionString: db.ownerUrl });
    await admin.connect();
    try {
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER audit_entries_link');
      await admin.query('INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body, written_by) VALUES ($1, $2, $3, $4, $5, $6)', [
        'div-b', head.seq + 1, head.hash, hash, JSON.stringify(body), 'fg_div_a',
      ]);
      await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER audit_entries_link');
    } finally {
      await admin.end();
    }

    const refused = await changeFlag(app.proxyUrl, release, 'checkout.new-flow', true, 'after the other writer');
    expect(refused).toMatchObject({ status: 503, json: { code: 'REPLICATE_UNACKED' } });
    const { status, body: ready } = await readyWhen(false);
    expect(status).toBe(503);
    expect(ready.checks['upstream:postgres']).toMatchObject({ ok: false, code: 'AUDIT_CHAIN_BROKEN', detail: expect.stringContaining('role "fg_div_a" (registered for "div-a")') });

    const auditor = await app.token('ada', 'auditor');
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(verify.status).toBe(409);
    expect(await verify.json()).toMatchObject({ upstream: [{ sink: 'postgres', ok: false, otherChain: 'div-a', writer: { role: 'fg_div_a', chains: ['div-a'], claimedChain: 'div-a' } }] });
  });
});
