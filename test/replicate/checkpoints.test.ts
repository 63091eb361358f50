import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyring, openLedger, signCheckpoint, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createCheckpointPublisher, createJsonlSink, createPostgresSink, type Sink } from '../../src/replicate/index.js';
import { verifyPostgresLedger } from '../../src/replicate/verify-postgres.js';
import { sampleEntry } from '../support/entries.js';
import { createLedgerDatabase, startPostgres, type LedgerDatabase, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const clock = fixedClock(Date.UTC(2026, 10, 2));
const tmp = makeTempDir();
let cluster: PgCluster;
let url: string;
let db: LedgerDatabase;

beforeAll(async () => {
  cluster = await startPostgres();
  db = await createLedgerDatabase(cluster, 'checkpoints');
  url = db.ownerUrl;
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
  tmp.cleanup();
});

async function ledgerWithCheckpoints(chainId: string, count: number, every: number) {
  const ledger = openLedger({ path: `${tmp.dir}/${chainId}.sqlite`, chainId, clock });
  const keyring = await openKeyring(`${tmp.dir}/${chainId}-keys`, clock);
  for (let i = 1; i <= count; i += 1) {
    const e = ledger.append(sampleEntry(i));
    if (i % every === 0) ledger.appendCheckpoint(await signCheckpoint({ chainId, seq: e.seq, hash: e.hash, time: clock.now().toString() }, keyring));
  }
  return { ledger, keyring };
}

const silent = createLogger({ level: 'silent' });

describe('checkpoints upstream', () => {
  it('the JSONL sink keeps them in a sibling file, each once', async () => {
    const { ledger } = await ledgerWithCheckpoints('jsonl-cp', 6, 2);
    const sink = createJsonlSink({ name: 'jsonl', path: `${tmp.dir}/stream.jsonl`, required: true });
    const publisher = createCheckpointPublisher({ source: ledger, sinks: [sink], logger: silent });
    await publisher.publish();
    await publisher.publish();
    const lines = readFileSync(`${tmp.dir}/stream.checkpoints.jsonl`, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number; jws: string });
    expect(lines.map((l) => l.seq)).toEqual([2, 4, 6]);
    expect(lines[0]!.jws.split('.')).toHaveLength(3);
    await sink.close();
    ledger.close();
  });

  it('a sink that was down receives the checkpoints it missed', async () => {
    const { ledger } = await ledgerWithCheckpoints('late', 4, 2);
    const got: number[] = [];
    let down = true;
    const sink: Sink = {
      name: 'late',
      required: false,
      deliver: async (entries) => entries.at(-1)!.seq,
      async deliverCheckpoints(cps) {
        if (down) throw new Error('unreachable');
        got.push(...cps.map((c) => c.seq));
      },
      close: async () => undefined,
    };
    const publisher = createCheckpointPublisher({ source: ledger, sinks: [sink], logger: silent });
    await publisher.publish();
    down = false;
    await publisher.publish();
    expect(got).toEqual([2, 4]);
    ledger.close();
  });

  it('verify --postgres checks signed checkpoints held upstream, and catches a tail cut below one', async () => {
    const { ledger, keyring } = await ledgerWithCheckpoints('central', 10, 5);
    const sink = createPostgresSink({ name: 'pg', url: await db.writerUrl('central'), required: true, production: true });
    await sink.deliver(ledger.entriesAfter(0, 100));
    await createCheckpointPublisher({ source: ledger as Ledger, sinks: [sink], logger: silent }).publish();
    await sink.close();
    const keys = new Map([['central', keyring.jwks()]]);
    expect(await verifyPostgresLedger(url, keys)).toMatchObject({ ok: true, chains: [{ chainId: 'central', checkpoints: { checked: 2 } }] });

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await admin.query("DELETE FROM flaggate.audit_entries WHERE chain_id = 'central' AND seq > 7");
      await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER USER');
    } finally {
      await admin.end();
    }
    const cut = await verifyPostgresLedger(url, keys);
    expect(cut.ok).toBe(false);
    expect(cut.chains[0]!.failure).toMatchObject({ kind: 'truncated', seq: 8 });
    // Without the keys the checkpoints cannot vouch for anything, and the cut goes unseen: say so.
    expect(await verifyPostgresLedger(url)).toMatchObject({ ok: true, chains: [{ checkpointsSkipped: 2 }] });
    ledger.close();
  });

  it("verify --postgres holds each chain to its own keys: a checkpoint signed with another sidecar's key is unknown_key", async () => {
    const a = await ledgerWithCheckpoints('keys-a', 4, 2);
    const b = await ledgerWithCheckpoints('keys-b', 4, 2);
    for (const [chainId, { ledger }] of [['keys-a', a], ['keys-b', b]] as const) {
      const sink = createPostgresSink({ name: 'pg', url: await db.writerUrl(chainId), required: true });
      await sink.deliver(ledger.entriesAfter(0, 100));
      await createCheckpointPublisher({ source: ledger, sinks: [sink], logger: silent }).publish();
      await sink.close();
    }
    const keys = new Map([['keys-a', a.keyring.jwks()], ['keys-b', b.keyring.jwks()]]);
    const only = (report: Awaited<ReturnType<typeof verifyPostgresLedger>>) => report.chains.filter((c) => c.chainId?.startsWith('keys-'));
    expect(only(await verifyPostgresLedger(url, keys)).map((c) => c.ok)).toEqual([true, true]);

    // A checkpoint over B's true entry 3, signed by A: what A could store for B before row-level security.
    const third = b.ledger.entriesAfter(2, 1)[0]!;
    const forged = await signCheckpoint({ chainId: 'keys-b', seq: 3, hash: third.hash, time: clock.now().toString() }, a.keyring);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws) VALUES ($1, $2, $3, $4, $5, $6)', ['keys-b', forged.seq, forged.hash, forged.time, forged.kid, forged.jws]);
    } finally {
      await admin.end();
    }
    const report = only(await verifyPostgresLedger(url, keys));
    expect(report.find((c) => c.chainId === 'keys-a')!.ok).toBe(true);
    expect(report.find((c) => c.chainId === 'keys-b')).toMatchObject({ ok: false, failure: { kind: 'unknown_key', seq: 3 } });
    // One key set for every chain, as before, cannot tell: the forged checkpoint verifies.
    const pooled = { keys: [...a.keyring.jwks().keys, ...b.keyring.jwks().keys] };
    const before = only(await verifyPostgresLedger(url, new Map([['keys-a', pooled], ['keys-b', pooled]])));
    expect(before.map((c) => c.ok)).toEqual([true, true]);
    a.ledger.close();
    b.ledger.close();
  });

  it('reports a conflicting checkpoint upstream as a fork, never skips it, and keeps reporting it', async () => {
    const { ledger } = await ledgerWithCheckpoints('conflict', 4, 2);
    const other = await openKeyring(`${tmp.dir}/conflict-other-keys`, clock);
    // Pre-inserted behind the policy: seq 4 of this chain, over another head.
    const planted = await signCheckpoint({ chainId: 'conflict', seq: 4, hash: 'f'.repeat(64), time: clock.now().toString() }, other);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws) VALUES ($1, $2, $3, $4, $5, $6)', ['conflict', 4, planted.hash, planted.time, planted.kid, planted.jws]);
    } finally {
      await admin.end();
    }
    const sink = createPostgresSink({ name: 'pg', url: await db.writerUrl('conflict'), required: true, production: true });
    await sink.deliver(ledger.entriesAfter(0, 100));
    const own = ledger.checkpoints();
    await expect(sink.deliverCheckpoints!(own)).rejects.toMatchObject({
      code: 'AUDIT_CHAIN_BROKEN',
      details: { chainId: 'conflict', seq: 4, kind: 'forked', expected: own[1]!.hash, actual: 'f'.repeat(64), writtenBy: 'postgres' },
    });
    const errors: unknown[] = [];
    const logger = { ...silent, error: (msg: string, fields?: Record<string, unknown>) => errors.push({ msg, ...fields }) } as typeof silent;
    const publisher = createCheckpointPublisher({ source: ledger, sinks: [sink], logger });
    await publisher.publish();
    expect(publisher.conflicts().get('pg')).toMatchObject({ code: 'AUDIT_CHAIN_BROKEN', details: { kind: 'forked', seq: 4 } });
    expect(errors).toMatchObject([{ code: 'AUDIT_CHAIN_BROKEN', kind: 'forked', seq: 4 }]);
    expect(ledger.sinkCursor('pg#checkpoints')).toBe(0);
    // Re-sending its own checkpoint is no conflict: the same row is idempotent.
    await expect(sink.deliverCheckpoints!(own.slice(0, 1))).resolves.toBeUndefined();
    await sink.close();
    ledger.close();
  });
});
