import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEntrySearcher, openLedger, searchLedgerFile, type EntrySearcher } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

// Rows enough that a filtered search with no match reads for a while: long enough to see the
// event loop turn beside it, which it cannot while a search runs on its own thread.
const COUNT = 40_000;
const tmp = makeTempDir('flaggate-search-aside-');
const path = join(tmp.dir, 'ledger.sqlite');
let searcher: EntrySearcher;

beforeAll(() => {
  const ledger = openLedger({ path, chainId: 'search', clock: fixedClock(Date.parse('2026-01-01T00:00:00.000Z')) });
  for (let done = 0; done < COUNT; done += 5_000) ledger.appendMany(Array.from({ length: 5_000 }, (_, i) => sampleEntry(done + i + 1)));
  ledger.close();
  searcher = openEntrySearcher(path);
}, 120_000);
afterAll(async () => {
  await searcher?.close();
  tmp.cleanup();
});

describe('the audit log searcher', () => {
  it('answers as searchLedgerFile does, filtered or not, newest first or from an after bound', async () => {
    for (const [filters, page] of [[{}, { limit: 5 }], [{ actor: 'user-1' }, { before: 3_000, limit: 4 }], [{ flag: 'no-such-flag' }, { after: 10, limit: 3 }]] as const) {
      expect(await searcher.search(filters, page)).toEqual(searchLedgerFile(path, filters, page));
    }
  });

  it('leaves the event loop free while a search reads the whole ledger', async () => {
    let turns = 0;
    let done = false;
    const search = searcher.search({ flag: 'no-such-flag', actor: 'nobody' }, { limit: 10 }).finally(() => (done = true));
    const spin = async () => {
      while (!done) {
        await new Promise((r) => setImmediate(r));
        turns += 1;
      }
    };
    const [found] = await Promise.all([search, spin()]);
    expect(found.rows).toEqual([]);
    expect(turns).toBeGreaterThan(10);
  });

  it("passes a search's refusal on with its code, and refuses searches past the waiting bound with CONTROL_BUSY", async () => {
    await expect(searcher.search({}, { before: 1.5, limit: 2 })).rejects.toMatchObject({ code: 'CONTROL_BAD_REQUEST' });
    const many = Array.from({ length: 12 }, () => searcher.search({ flag: 'no-such-flag' }, { limit: 1 }).then(() => 'answered', (err: { code: string }) => err.code));
    const outcomes = await Promise.all(many);
    expect(outcomes.filter((o) => o === 'CONTROL_BUSY').length).toBeGreaterThan(0);
    expect(outcomes.filter((o) => o === 'answered').length).toBeGreaterThan(0);
    expect(await searcher.search({}, { limit: 1 })).toMatchObject({ rows: [expect.objectContaining({ seq: COUNT })] });
  });
});
