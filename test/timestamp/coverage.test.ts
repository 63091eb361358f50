import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryTimesFrom } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { FlaggateError } from '../../src/errors.js';
import { createCoverage, createEmbeddedTsa, openTokenStore, verifyCoverage, verifyTimestampToken, verifyTokenFile } from '../../src/timestamp/index.js';
import type { EmbeddedTsa, StampFn } from '../../src/timestamp/index.js';
import { makeTempDir } from '../support/temp-dir.js';

const tmp = makeTempDir('flaggate-tsa-coverage-');
const hashOf = (seq: number) => createHash('sha256').update(`entry-${seq}`).digest('hex');
let tsa: EmbeddedTsa;

beforeAll(() => {
  tsa = createEmbeddedTsa({ dataDir: tmp.dir, clock: fixedClock(Date.parse('2025-06-01T12:00:00Z')) });
});
afterAll(() => tmp.cleanup());

function countingStamp(): { stamp: StampFn; calls: () => number } {
  let calls = 0;
  return {
    calls: () => calls,
    stamp: async (digestHex) => {
      calls++;
      const token = await tsa.stamp(digestHex);
      return { token, genTime: verifyTimestampToken(token, { trustAnchorsPem: tsa.trustAnchorPem() }).tstInfo.genTime };
    },
  };
}

describe('createCoverage', () => {
  it('shares tokens among concurrent calls and covers every seq', async () => {
    const store = openTokenStore(join(tmp.dir, 'shared.db'));
    const { stamp, calls } = countingStamp();
    const coverage = createCoverage({ stamp, store });
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => coverage.cover(i + 1, hashOf(i + 1))));
    expect(calls()).toBeLessThanOrEqual(3);
    results.forEach((r, i) => expect(r.coversSeq).toBeGreaterThanOrEqual(i + 1));
    for (let seq = 1; seq <= 50; seq++) {
      const token = store.coveringToken(seq);
      expect(token).toBeDefined();
      // The check every change makes names the same token without reading it.
      expect(store.covering(seq)).toEqual({ id: token!.id, coversSeq: token!.coversSeq });
    }
    expect(store.covering(51)).toBeUndefined();
    expect(store.latest()?.coversSeq).toBe(50);

    const report = verifyCoverage({ tokens: store.all(), rowHashAt: (s) => (s <= 50 ? hashOf(s) : undefined), headSeq: 50, trust: { trustAnchorsPem: tsa.trustAnchorPem() } });
    expect(report).toMatchObject({ ok: true, coveredThrough: 50, failures: [] });
    store.close();
  });

  it('rejects with TIMESTAMP_UNAVAILABLE and stores nothing when the TSA fails', async () => {
    const store = openTokenStore(join(tmp.dir, 'down.db'));
    const coverage = createCoverage({
      stamp: async () => {
        throw new FlaggateError('TIMESTAMP_UNAVAILABLE', 'no TSA answered');
      },
      store,
    });
    const all = await Promise.allSettled([coverage.cover(1, hashOf(1)), coverage.cover(2, hashOf(2))]);
    for (const r of all) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'TIMESTAMP_UNAVAILABLE' } });
    expect(store.all()).toEqual([]);
    store.close();
  });
});

describe('openTokenStore', () => {
  it('rejects UPDATE and DELETE on timestamp_tokens', async () => {
    const path = join(tmp.dir, 'append-only.db');
    const store = openTokenStore(path);
    store.add({ coversSeq: 1, coversHash: hashOf(1), genTime: '2025-06-01T12:00:00.000Z', tsa: 'embedded', token: await tsa.stamp(hashOf(1)) });
    const db = new Database(path);
    expect(() => db.prepare('UPDATE timestamp_tokens SET covers_seq = 2').run()).toThrow(/append-only/);
    expect(() => db.prepare('DELETE FROM timestamp_tokens').run()).toThrow(/append-only/);
    db.close();
    store.close();
  });
});

describe('verifyCoverage', () => {
  it('reports the first uncovered entry and a token over the wrong entry', async () => {
    const tokens = [
      { id: 1, coversSeq: 3, coversHash: hashOf(3), token: await tsa.stamp(hashOf(3)) },
      { id: 2, coversSeq: 5, coversHash: hashOf(5), token: await tsa.stamp(hashOf(4)) },
    ];
    const report = verifyCoverage({ tokens, rowHashAt: hashOf, headSeq: 7, trust: { trustAnchorsPem: tsa.trustAnchorPem() } });
    expect(report).toMatchObject({ ok: false, coveredThrough: 3, uncoveredFrom: 4, failures: [{ tokenId: 2, coversSeq: 5, code: 'TSA_IMPRINT_MISMATCH' }] });
  });
});

describe('verifyTokenFile', () => {
  it('accepts a reply file and reports the reason code of a bad one', async () => {
    const path = join(tmp.dir, 'cli.tst');
    writeFileSync(path, await tsa.stamp(hashOf(9)));
    writeFileSync(join(tmp.dir, 'trust.pem'), tsa.trustAnchorPem());
    expect(verifyTokenFile({ tokenPath: path, digestHex: hashOf(9), trustPem: join(tmp.dir, 'trust.pem') })).toMatchObject({ ok: true, tstInfo: { imprint: hashOf(9) } });
    expect(verifyTokenFile({ tokenPath: path, digestHex: hashOf(8), trustPem: tsa.trustAnchorPem() })).toMatchObject({ ok: false, code: 'TSA_IMPRINT_MISMATCH' });
  });
});

describe('verifyCoverage with entry times', () => {
  // The TSA's clock: every token below is made at 12:00:00.
  const made = Date.parse('2025-06-01T12:00:00Z');
  const at = (offsetSeconds: number) => new Date(made + offsetSeconds * 1000).toISOString();
  const tokensOver = async (seqs: number[]) => Promise.all(seqs.map(async (seq) => ({ coversSeq: seq, coversHash: hashOf(seq), token: await tsa.stamp(hashOf(seq)) })));
  const check = async (times: Partial<Record<number, string>>, tokenSeqs: number[], extra: { notAfter?: string } = {}) =>
    verifyCoverage({
      tokens: await tokensOver(tokenSeqs),
      rowHashAt: (s) => (times[s] ? hashOf(s) : undefined),
      headSeq: Math.max(...Object.keys(times).map(Number)),
      trust: { trustAnchorsPem: tsa.trustAnchorPem() },
      times: { entryTime: (s) => times[s], maxDelaySeconds: 3600, skewSeconds: 300, ...extra },
    });

  it.each([
    { name: 'tokens made right after their entries', times: { 1: at(-2), 2: at(-1) }, tokens: [1, 2], want: { ok: true } },
    { name: 'one token over a batch made within the bound', times: { 1: at(-3000), 2: at(-10) }, tokens: [2], want: { ok: true } },
    { name: 'a token made within the clock skew before its entry', times: { 1: at(200) }, tokens: [1], want: { ok: true } },
  ])('accepts $name', async ({ times, tokens, want }) => {
    expect(await check(times, tokens)).toMatchObject(want);
  });

  it.each([
    { name: 'a token made two hours after its entry', times: { 1: at(-7200) }, tokens: [1], want: { code: 'COVERAGE_TOKEN_LATE', coversSeq: 1, seq: 1 } },
    {
      name: 'one fresh token over a new head that vouches for old entries through the chain',
      times: { 1: at(-5), 2: at(-9000), 3: at(-8000), 4: at(-1) },
      tokens: [1, 4],
      want: { code: 'COVERAGE_TOKEN_LATE', coversSeq: 4, seq: 2 },
    },
    { name: 'a token made before its entry (beyond the skew)', times: { 1: at(900) }, tokens: [1], want: { code: 'COVERAGE_TOKEN_EARLY', seq: 1 } },
  ])('rejects $name', async ({ times, tokens, want }) => {
    const report = await check(times, tokens);
    expect(report.ok).toBe(false);
    expect(report.failures[0]).toMatchObject(want);
  });

  it('rejects a token made after the package that holds it', async () => {
    const report = await check({ 1: at(-2) }, [1], { notAfter: at(-1000) });
    expect(report.failures[0]).toMatchObject({ code: 'COVERAGE_TOKEN_LATE', coversSeq: 1 });
  });

  // Five months late: a time that reads as NaN would pass both bounds and hide it.
  it.each([' ', '\u200b', 'Z', '+00:00'])('rejects an entry whose time has %j after it, not passing it over', async (suffix) => {
    const report = await check({ 1: at(-2), 2: at(-13_000_000) + suffix }, [2]);
    expect(report.failures[0]).toMatchObject({ code: 'COVERAGE_ENTRY_TIME_INVALID', coversSeq: 2, seq: 2 });
  });

  it.each([
    { name: 'no time at all', body: {} },
    { name: 'a number', body: { timestamp_utc: Date.parse('2025-01-01T12:00:00Z') } },
    { name: 'another form of the same instant', body: { timestamp_utc: '2025-01-01T12:00:00Z' } },
    { name: 'a day that does not exist', body: { timestamp_utc: '2025-02-30T12:00:00.000Z' } },
  ])('rejects, as verify --db reads rows, an entry that records $name as its time', async ({ body }) => {
    const rows = [{ seq: 1, chain_id: 'c', prev_hash: '0'.repeat(64), hash: hashOf(1), body: JSON.stringify(body) }];
    const report = verifyCoverage({
      tokens: await tokensOver([1]),
      rowHashAt: () => hashOf(1),
      headSeq: 1,
      trust: { trustAnchorsPem: tsa.trustAnchorPem() },
      times: { entryTime: entryTimesFrom((after) => rows.filter((r) => r.seq > after)), maxDelaySeconds: 3600, skewSeconds: 300 },
    });
    expect(report.failures[0]).toMatchObject({ code: 'COVERAGE_ENTRY_TIME_INVALID', seq: 1 });
  });
});
