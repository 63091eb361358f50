import { readFileSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openKeyring, openLedger, signCheckpoint, type Ledger } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { createLogger } from '../../src/log.js';
import { createCheckpointPublisher, createJsonlSink, createPostgresSink, type Sink } from '../../src/replicate/index.js';
import { verifyPostgresLedger } from '../../src/replicate/verify-postgres.js';
import { sampleEntry } from '../support/entries.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { makeTempDir } from '../support/temp-dir.js';

const clock = fixedClock(Date.UTC(2026, 10, 2));
const tmp = makeTempDir();
let cluster: PgCluster;
let url: string;

beforeAll(async () => {
  cluster = await startPostgres();
  url = await cluster.createDatabase('checkpoints');
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
    const sink = createPostgresSink({ name: 'pg', url, required: true });
    await sink.deliver(ledger.entriesAfter(0, 100));
    await createCheckpointPublisher({ source: ledger as Ledger, sinks: [sink], logger: silent }).publish();
    await sink.close();
    expect(await verifyPostgresLedger(url, keyring.jwks())).toMatchObject({ ok: true, chains: [{ chainId: 'central', checkpoints: { checked: 2 } }] });

    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query('ALTER TABLE flaggate.audit_entries DISABLE TRIGGER USER');
      await admin.query("DELETE FROM flaggate.audit_entries WHERE chain_id = 'central' AND seq > 7");
      await admin.query('ALTER TABLE flaggate.audit_entries ENABLE TRIGGER USER');
    } finally {
      await admin.end();
    }
    const cut = await verifyPostgresLedger(url, keyring.jwks());
    expect(cut.ok).toBe(false);
    expect(cut.chains[0]!.failure).toMatchObject({ kind: 'truncated', seq: 8 });
    // Without the keys the checkpoints cannot vouch for anything, and the cut goes unseen: say so.
    expect(await verifyPostgresLedger(url)).toMatchObject({ ok: true, chains: [{ checkpointsSkipped: 2 }] });
    ledger.close();
  });
});
