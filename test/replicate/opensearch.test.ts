import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type Ledger } from '../../src/audit/index.js';
import { systemClock } from '../../src/clock.js';
import { createMetrics } from '../../src/metrics.js';
import { createOpenSearchSink, createReplicator, documentId, indexTemplate } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { startOpenSearch, type OpenSearchNode } from '../support/opensearch.js';
import { makeTempDir } from '../support/temp-dir.js';

/**
 * Seconds OpenSearch is frozen (SIGSTOP) in the middle of the load run: 20 by default, which keeps
 * this file near a minute; FLAGGATE_OPENSEARCH_OUTAGE_SECONDS=60 runs the full outage (about 2 minutes).
 */
const outageSeconds = Number(process.env.FLAGGATE_OPENSEARCH_OUTAGE_SECONDS ?? 20);

let node: OpenSearchNode;
const temp = makeTempDir('flaggate-opensearch-test-');

beforeAll(async () => {
  node = await startOpenSearch();
}, 120_000);

afterAll(async () => {
  await node?.stop();
  temp.cleanup();
});

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json = (await res.json()) as T;
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

/** Every document id in the index, as many times as the index holds it (after a refresh). */
async function indexedIds(index: string): Promise<{ count: number; ids: string[] }> {
  await call('POST', `/${index}/_refresh`);
  const { count } = await call<{ count: number }>('GET', `/${index}/_count`);
  const hits = await call<{ hits: { hits: Array<{ _id: string }> } }>('POST', `/${index}/_search`, { size: 10_000, _source: false, query: { match_all: {} } });
  return { count, ids: hits.hits.hits.map((h) => h._id) };
}

function ledgerWith(name: string, n: number): Ledger {
  const ledger = openLedger({ path: join(temp.dir, `${name}.sqlite`), chainId: `chain-${name}`, clock: systemClock });
  for (let i = 1; i <= n; i += 1) ledger.append(sampleEntry(i));
  return ledger;
}

function expectedIds(ledger: Ledger): string[] {
  const head = ledger.head().seq;
  return Array.from({ length: head }, (_, i) => documentId({ chain_id: ledger.chainId, seq: i + 1 })).sort();
}

describe('createOpenSearchSink against OpenSearch 2.19.6', () => {
  it('indexes each entry once under chain_id:seq, and a batch resent by a sink that forgot its position adds nothing', async () => {
    const ledger = ledgerWith('resend', 25);
    const entries = ledger.entriesAfter(0, 100);
    const first = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'resend-audit' });
    expect(await first.deliver(entries)).toBe(25);
    // A new process starts from a cursor that lags what the index holds: every create answers 409.
    const second = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'resend-audit' });
    expect(await second.deliver(entries.slice(10))).toBe(25);
    const { count, ids } = await indexedIds('resend-audit');
    expect(count).toBe(25);
    expect(ids.sort()).toEqual(expectedIds(ledger));
    const doc = await call<{ _version: number; _source: { entry: { hash: string }; seq: number } }>('GET', `/resend-audit/_doc/${documentId(entries[16]!)}`);
    expect(doc._source).toMatchObject({ seq: 17, entry: { hash: entries[16]!.hash } });
    expect(doc._version).toBe(1); // `create`, not `index`: the resend did not overwrite what was indexed
    ledger.close();
  });

  it('puts the index template published in docs/, and the whole entry is stored but not indexed', async () => {
    const ledger = ledgerWith('template', 1);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'template-audit' });
    await sink.deliver(ledger.entriesAfter(0, 10));
    const published = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'opensearch-index-template.json'), 'utf8')) as unknown;
    expect(published).toEqual(indexTemplate('flaggate-audit'));
    const mapping = await call<Record<string, { mappings: { properties: Record<string, unknown> } }>>('GET', '/template-audit/_mapping');
    expect(mapping['template-audit']!.mappings.properties.entry).toEqual({ type: 'object', enabled: false });
    expect(mapping['template-audit']!.mappings.properties.flag_key).toEqual({ type: 'keyword' });
    ledger.close();
  });

  it('does not count a different document already under an entry\'s id as delivered: acknowledges the entries before it, then REPLICATE_UNACKED', async () => {
    const ledger = ledgerWith('planted', 5);
    const entries = ledger.entriesAfter(0, 10);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'planted-audit', maxAttempts: 2, backoff: { baseMs: 1, maxMs: 5 } });
    await sink.deliver(entries.slice(0, 1)); // puts the template and the index
    await call('PUT', `/planted-audit/_create/${documentId(entries[2]!)}?refresh=true`, { seq: 3, hash: 'f'.repeat(64), flag_key: 'planted' });
    expect(await sink.deliver(entries)).toBe(2);
    await expect(sink.deliver(entries)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { acked: 2 } });
    const planted = await call<{ _source: { hash: string } }>('GET', `/planted-audit/_doc/${documentId(entries[2]!)}`);
    expect(planted._source.hash).toBe('f'.repeat(64)); // create never overwrites, not even a planted document
    ledger.close();
  });

  it('acknowledges the entries before an item the cluster refuses, then rejects with REPLICATE_UNACKED without retrying a refusal', async () => {
    // An index whose mapping takes flag_key as a number: entries 1-3 ("1".."3") fit, entry 4 does not.
    await call('PUT', '/refusing-audit', { mappings: { properties: { flag_key: { type: 'long' } } } });
    const ledger = openLedger({ path: join(temp.dir, 'refusing.sqlite'), chainId: 'chain-refusing', clock: systemClock });
    for (let i = 1; i <= 5; i += 1) ledger.append(sampleEntry(i, { flag_key: i <= 3 ? String(i) : `flag.${i}` }));
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'refusing-audit', installTemplate: false, maxAttempts: 3 });
    const entries = ledger.entriesAfter(0, 10);
    expect(await sink.deliver(entries)).toBe(3);
    const started = Date.now();
    await expect(sink.deliver(entries)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { sink: 'os', acked: 3 } });
    expect(Date.now() - started).toBeLessThan(1000); // a 400 item is not retried with backoff
    expect((await indexedIds('refusing-audit')).count).toBe(3);
    ledger.close();
  });
});

describe('what an OpenSearch sink writes to', () => {
  it('refuses an alias before sending anything: after a rollover a resent entry would be created again behind it', async () => {
    await call('PUT', '/roll-000001', { aliases: { 'roll-audit': { is_write_index: true } } });
    const ledger = ledgerWith('alias', 3);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'roll-audit', installTemplate: false, maxAttempts: 3 });
    const started = Date.now();
    await expect(sink.deliver(ledger.entriesAfter(0, 10))).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', cause: { message: expect.stringContaining('is an alias') } });
    expect(Date.now() - started).toBeLessThan(1000); // refused, not retried
    expect((await indexedIds('roll-000001')).count).toBe(0);
    ledger.close();
  });

  it('refuses an index whose translog is fsync\'d in the background, and takes one fsync\'d per request', async () => {
    await call('PUT', '/async-audit', { settings: { 'index.translog.durability': 'async', 'index.translog.sync_interval': '120s' } });
    const ledger = ledgerWith('async', 2);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'async-audit', installTemplate: false, maxAttempts: 2 });
    await expect(sink.deliver(ledger.entriesAfter(0, 10))).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', cause: { message: expect.stringContaining('index.translog.durability: async') } });
    expect((await indexedIds('async-audit')).count).toBe(0);
    await call('PUT', '/async-audit/_settings', { 'index.translog.durability': 'request' });
    const again = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'async-audit', installTemplate: false });
    expect(await again.deliver(ledger.entriesAfter(0, 10))).toBe(2);
    ledger.close();
  });
});

describe('what an OpenSearch sink writes to, looked at again', () => {
  it('refuses a data stream: its backing indices roll over, and an id is unique only within one', async () => {
    await call('PUT', '/_index_template/ds-audit-template', { index_patterns: ['ds-audit*'], data_stream: {}, priority: 500 });
    await call('PUT', '/_data_stream/ds-audit');
    const ledger = ledgerWith('stream', 2);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'ds-audit', installTemplate: false, maxAttempts: 2 });
    await expect(sink.deliver(ledger.entriesAfter(0, 10))).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', cause: { message: expect.stringContaining('is a data stream') } });
    ledger.close();
  });

  it('acknowledges nothing when the index its first delivery made is not fit (a template of higher priority made it async)', async () => {
    await call('PUT', '/_index_template/made-async', { index_patterns: ['made-async-audit'], priority: 900, template: { settings: { 'index.translog.durability': 'async' } } });
    const ledger = ledgerWith('made-async', 2);
    const sink = createOpenSearchSink({ name: 'os', required: true, url: node.url, index: 'made-async-audit', installTemplate: false, maxAttempts: 2 });
    await expect(sink.deliver(ledger.entriesAfter(0, 10))).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { acked: 0 }, cause: { message: expect.stringContaining('index.translog.durability: async') } });
    ledger.close();
  });
});

describe(`replication to OpenSearch through a ${outageSeconds} s outage`, () => {
  it(
    'loses and duplicates nothing: every entry indexed exactly once, by count and by id',
    async () => {
      const ledger = openLedger({ path: join(temp.dir, 'outage.sqlite'), chainId: 'chain-outage', clock: systemClock });
      const sink = createOpenSearchSink({ name: 'siem', required: false, url: node.url, index: 'outage-audit', timeoutMs: 2000, maxAttempts: 2, backoff: { baseMs: 100, maxMs: 500 } });
      const replicator = createReplicator({ source: ledger, sinks: [sink], metrics: createMetrics(), batchSize: 200, retry: { baseMs: 200, maxMs: 2000 } });
      let writing = true;
      let written = 0;
      // The load: a steady stream of entries through the ledger, as a busy sidecar makes them.
      const load = (async () => {
        while (writing) {
          ledger.appendMany([sampleEntry(written + 1), sampleEntry(written + 2), sampleEntry(written + 3)]);
          written += 3;
          replicator.nudge();
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      await new Promise((r) => setTimeout(r, 4000));
      const beforeOutage = replicator.acked().siem!;
      node.pause();
      await new Promise((r) => setTimeout(r, outageSeconds * 1000));
      const duringOutage = replicator.acked().siem!;
      node.resume();
      await new Promise((r) => setTimeout(r, 4000));
      writing = false;
      await load;
      const head = ledger.head().seq;
      const deadline = Date.now() + 60_000;
      while (replicator.acked().siem! < head && Date.now() < deadline) {
        replicator.nudge();
        await new Promise((r) => setTimeout(r, 200));
      }
      await replicator.close();
      expect(beforeOutage).toBeGreaterThan(0);
      expect(head - duringOutage).toBeGreaterThan(outageSeconds * 20); // the backlog the outage built up
      expect(replicator.acked().siem).toBe(head);
      const { count, ids } = await indexedIds('outage-audit');
      expect(count).toBe(head);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.sort()).toEqual(expectedIds(ledger));
      ledger.close();
    },
    outageSeconds * 1000 + 120_000,
  );
});
