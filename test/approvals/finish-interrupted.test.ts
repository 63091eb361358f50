import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/index.js';
import { finishInterrupted } from '../../src/approvals/finish-interrupted.js';
import type { ChangeRequest, ChangeStore } from '../../src/approvals/store.js';

/** The fields of an entry the finishing reads; the rest of an entry plays no part in it. */
function entry(e: { seq: number; type: string; allow?: boolean; decisionId: string; cr?: string; chain?: string; outcome?: string }): AuditEntry {
  return {
    seq: e.seq,
    chain_id: e.chain ?? 'local',
    entry_type: e.type,
    decision_id: e.decisionId,
    change_request_id: e.cr ?? 'cr-1',
    decision: { allow: e.allow ?? true },
    outcome: e.outcome ? { status: e.outcome } : null,
  } as unknown as AuditEntry;
}

async function finishWith(entries: AuditEntry[]): Promise<Array<[string, string]>> {
  const finished: Array<[string, string]> = [];
  const store = {
    list: async () => [{ id: 'cr-1', status: 'applying' } as ChangeRequest],
    finish: async (id: string, status: string) => (finished.push([id, status]), true),
  } as unknown as ChangeStore;
  await finishInterrupted({ store, evidence: () => entries });
  return finished;
}

const requested = entry({ seq: 1, type: 'change.requested', allow: false, decisionId: 'held' });
const released = entry({ seq: 3, type: 'change.decision', decisionId: 'd1' });

describe('finishInterrupted', () => {
  it('stores applied or unknown as the outcome says, and failed for any other, as a live apply does', async () => {
    expect(await finishWith([requested, released, entry({ seq: 4, type: 'change.outcome', decisionId: 'd1', outcome: 'applied' })])).toEqual([['cr-1', 'applied']]);
    // Sent, and no answer says whether the platform acted: not a failure a requester would send again.
    expect(await finishWith([requested, released, entry({ seq: 4, type: 'change.outcome', decisionId: 'd1', outcome: 'unknown' })])).toEqual([['cr-1', 'unknown']]);
    for (const status of ['failed', 'not_applied', 'not_forwarded']) {
      expect(await finishWith([requested, released, entry({ seq: 9, type: 'change.outcome', decisionId: 'd1', outcome: status })])).toEqual([['cr-1', 'failed']]);
    }
  });

  it('leaves the change applying without a proven outcome', async () => {
    // No decision released it yet, or no outcome of it yet.
    expect(await finishWith([requested])).toEqual([]);
    expect(await finishWith([requested, released])).toEqual([]);
    // An outcome of another decision, in another chain, or before the decision it names.
    expect(await finishWith([requested, released, entry({ seq: 4, type: 'change.outcome', decisionId: 'd2', outcome: 'applied' })])).toEqual([]);
    expect(await finishWith([requested, released, entry({ seq: 4, type: 'change.outcome', decisionId: 'd1', chain: 'peer', outcome: 'applied' })])).toEqual([]);
    expect(await finishWith([requested, entry({ seq: 2, type: 'change.outcome', decisionId: 'd1', outcome: 'applied' }), released])).toEqual([]);
    // Released twice, or its outcome recorded twice: not for a sweep to choose.
    const again = entry({ seq: 5, type: 'change.decision', decisionId: 'd3' });
    expect(await finishWith([requested, released, again, entry({ seq: 6, type: 'change.outcome', decisionId: 'd1', outcome: 'applied' })])).toEqual([]);
    const outcome = (seq: number, status: string) => entry({ seq, type: 'change.outcome', decisionId: 'd1', outcome: status });
    expect(await finishWith([requested, released, outcome(4, 'applied'), outcome(5, 'failed')])).toEqual([]);
    // A denied decision releases nothing.
    expect(await finishWith([requested, entry({ seq: 3, type: 'change.decision', allow: false, decisionId: 'd1' }), outcome(4, 'applied')])).toEqual([]);
  });
});
