import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson, outcomeEntry, type AuditEntry, type NewEntry } from '../../src/audit/index.js';
import { sampleEntry } from '../support/entries.js';
import { useTempLedgers } from '../support/temp-ledger.js';

const tempLedger = useTempLedgers();

/** The stored body of a committed entry, and what the whole entry serializes to: the two must be one text. */
function storedAndWhole(ledger: ReturnType<typeof tempLedger>, committed: AuditEntry): [string, string] {
  const [row] = ledger.rowsAfter(committed.seq - 1, 1);
  const { hash: _hash, ...body } = committed;
  return [row!.body, canonicalJson(body)];
}

// An outcome takes the committed text of each member it carries from its decision; everything it
// sets anew is checked and serialized as any entry's is. Either way the stored text is the
// outcome's own canonical JSON, and what the schema refuses is still refused.
describe('an outcome built from its committed decision', () => {
  const state = fc.jsonValue({ maxDepth: 3 });
  const text = fc.string({ unit: 'grapheme', maxLength: 30 });
  propTest.prop([state, state, text, fc.option(text, { nil: undefined }), fc.integer({ min: 100, max: 599 })], { numRuns: 150 })(
    'stores exactly the text a whole serialization of it gives',
    (previous, next, reason, detail, status) => {
      const ledger = tempLedger();
      const decision = ledger.append(sampleEntry(1, { previous_state: previous, new_state: next, reason }));
      expect(decision.unrecorded).toBeNull();
      const outcome = ledger.append(outcomeEntry(decision, { status: 'applied', platformStatus: status, ...(detail === undefined ? {} : { detail }) }));
      expect(outcome.unrecorded).toBeNull();
      const [stored, whole] = storedAndWhole(ledger, outcome);
      expect(stored).toBe(whole);
      // What the decision stored, as stored (canonical JSON writes -0 as 0).
      expect(outcome).toMatchObject({ entry_type: 'change.outcome', new_state: JSON.parse(canonicalJson(next)) as unknown, reason, outcome: { status: 'applied', platform_status: status } });
      // The same members as a copy of the outcome that carries nothing gets.
      expect(ledger.prepare(outcomeEntry(decision, { status: 'applied', platformStatus: status, ...(detail === undefined ? {} : { detail }) })).members).toEqual(
        ledger.prepare(structuredClone(outcomeEntry(decision, { status: 'applied', platformStatus: status, ...(detail === undefined ? {} : { detail }) }))).members,
      );
    },
  );

  it.each<[string, (o: NewEntry & Record<string, unknown>) => void]>([
    ['a reason set anew over the schema\'s 4096 characters', (o) => void (o.reason = 'x'.repeat(5000))],
    ['an actor set anew without its id', (o) => void (o.actor = { ...o.actor, id: '' })],
    ['a member the schema does not know', (o) => void (o.extra = 1)],
    ['a required member removed', (o) => void delete (o as Partial<NewEntry>).actor],
    ['its new_state removed (zod requires the member, whatever it may hold)', (o) => void delete (o as Partial<NewEntry>).new_state],
    ['a state set anew that JSON cannot carry', (o) => void (o.new_state = { n: Number.POSITIVE_INFINITY })],
    ['an outcome status the schema does not know', (o) => void (o.outcome = { ...o.outcome!, status: 'teleported' as 'applied' })],
  ])('still refuses %s (a stand-in is recorded)', (_name, edit) => {
    const ledger = tempLedger();
    const decision = ledger.append(sampleEntry(1));
    const outcome = outcomeEntry(decision, { status: 'applied', platformStatus: 200 }) as NewEntry & Record<string, unknown>;
    edit(outcome);
    const committed = ledger.append(outcome);
    expect(committed.unrecorded).toMatchObject({ error_code: 'AUDIT_ENTRY_UNRECORDABLE' });
    const [stored, whole] = storedAndWhole(ledger, committed);
    expect(stored).toBe(whole);
  });

  it('serializes a member set anew, even one equal to the decision\'s', () => {
    const ledger = tempLedger();
    const decision = ledger.append(sampleEntry(1));
    const outcome = outcomeEntry(decision, { status: 'applied', platformStatus: 200 });
    outcome.new_state = { state: 'ENABLED', note: 'set after the decision' };
    outcome.reason = 'a reason of its own';
    const committed = ledger.append(outcome);
    expect(committed).toMatchObject({ unrecorded: null, new_state: { state: 'ENABLED', note: 'set after the decision' }, reason: 'a reason of its own', actor: decision.actor });
    const [stored, whole] = storedAndWhole(ledger, committed);
    expect(stored).toBe(whole);
  });

  it('carries nothing from a decision that was recorded as a stand-in', () => {
    const ledger = tempLedger();
    const decision = ledger.append(sampleEntry(1, { new_state: { n: Number.NaN } }));
    expect(decision.unrecorded).not.toBeNull();
    const committed = ledger.append(outcomeEntry(decision, { status: 'not_forwarded', errorCode: 'AUDIT_ENTRY_UNRECORDABLE' }));
    const [stored, whole] = storedAndWhole(ledger, committed);
    expect(stored).toBe(whole);
    expect(committed.new_state).toEqual(decision.new_state);
  });
});
