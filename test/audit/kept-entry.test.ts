import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { outcomeEntry, type AuditEntry, type Ledger } from '../../src/audit/index.js';
import { sampleEntry } from '../support/entries.js';
import { useTempLedgers } from '../support/temp-ledger.js';

const tempLedger = useTempLedgers();

/** The committed entry as its stored row reads back. */
function storedEntry(ledger: Ledger, seq: number): AuditEntry {
  const [row] = ledger.rowsAfter(seq - 1, 1);
  return { ...(JSON.parse(row!.body) as AuditEntry), hash: row!.hash };
}

// The ledger builds the entry it hands out and replicates from the writer's values instead of
// parsing the text it stored: the two must be one entry, and stay one.
describe('the committed entry', () => {
  const state = fc.jsonValue({ maxDepth: 3 });
  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  propTest.prop([state, state, text, fc.option(fc.constantFrom('header', 'token') as fc.Arbitrary<'header' | 'token'>, { nil: undefined })], { numRuns: 200 })(
    'is its stored text parsed, whatever the states hold (-0 included), as handed out and as replication reads it',
    (previous, next, reason, source) => {
      const ledger = tempLedger();
      const decision = ledger.append(sampleEntry(1, { previous_state: previous, new_state: next, reason, ...(source ? { context_sources: { reason: source } } : {}) }));
      const outcome = ledger.append(outcomeEntry(decision, { status: 'applied', platformStatus: 200 }));
      for (const committed of [decision, outcome]) {
        expect(committed).toStrictEqual(storedEntry(ledger, committed.seq));
        expect(ledger.entriesAfter(committed.seq - 1, 1)[0]).toStrictEqual(storedEntry(ledger, committed.seq));
      }
    },
  );

  it('freezes the writer\'s objects it keeps, so a change after the commit throws instead of reaching replication', () => {
    const ledger = tempLedger();
    const entry = sampleEntry(1, { new_state: { state: 'ENABLED', rollout: [10, 20] } });
    const committed = ledger.append(entry);
    expect(() => void ((entry.new_state as { state: string }).state = 'DISABLED')).toThrow(TypeError);
    expect(() => void (committed.actor.roles as string[]).push('admin')).toThrow(TypeError);
    expect(() => void ((entry.new_state as { rollout: number[] }).rollout[0] = 100)).toThrow(TypeError);
    // A field of the copy handed out is the writer's to change; what replication reads is not.
    committed.reason = 'changed after the commit';
    expect(ledger.entriesAfter(0, 1)[0]).toStrictEqual(storedEntry(ledger, 1));
  });

  it('keeps the text\'s reading of a value canonical JSON writes otherwise (-0 is stored as 0)', () => {
    const ledger = tempLedger();
    const committed = ledger.append(sampleEntry(1, { new_state: { n: -0 } }));
    expect(Object.is((committed.new_state as { n: number }).n, 0)).toBe(true);
    expect(committed).toStrictEqual(storedEntry(ledger, 1));
  });
});
