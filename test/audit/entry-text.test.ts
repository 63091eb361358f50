import { fc, test as propTest } from '@fast-check/vitest';
import { afterEach, describe, expect } from 'vitest';
import { canonicalEntry, canonicalJson, openLedger, storedBody } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const cleanups: Array<() => void> = [];
afterEach(() => cleanups.splice(0).forEach((c) => c()));

// A JSON Lines record of an entry the ledger kept is its stored text with the hash member put in;
// it must be the entry's whole canonical JSON, whatever the members hold and however they sort.
describe('canonicalEntry', () => {
  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  propTest.prop([fc.array(fc.tuple(fc.jsonValue({ maxDepth: 3 }), text, fc.option(text, { nil: null })), { minLength: 1, maxLength: 6 })], { numRuns: 100 })(
    'is the whole entry\'s canonical JSON, and its body the stored row\'s, for entries kept and entries read back',
    (changes) => {
      const tmp = makeTempDir();
      const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'test', clock: fixedClock(Date.UTC(2026, 0, 2, 3, 4, 5)) });
      cleanups.push(() => (ledger.close(), tmp.cleanup()));
      const committed = changes.map(([state, reason, ticket], i) =>
        ledger.append(sampleEntry(i + 1, { new_state: state, reason, linked_artifacts: { pr: null, build: null, ticket } })),
      );
      const kept = ledger.entriesAfter(0, changes.length);
      expect(kept.map((e) => e.seq)).toEqual(committed.map((e) => e.seq));
      for (const e of [...kept, ...committed]) expect(canonicalEntry(e)).toBe(canonicalJson(e));
      // What a sink stores as the body is the row's body, byte for byte, kept or serialized again.
      const rows = ledger.rowsAfter(0, changes.length);
      for (const e of [...kept, ...committed]) expect(storedBody(e)).toBe(rows[e.seq - 1]!.body);
    },
  );
});
