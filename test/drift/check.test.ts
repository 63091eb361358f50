import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/index.js';
import { checkDrift, type Baseline, type CheckInput } from '../../src/drift/check.js';
import type { PlatformEvent } from '../../src/drift/probe.js';

const T0 = Date.parse('2026-01-05T10:00:00.000Z');
const SELF = 'flaggate-token';

/** Only the fields the watcher reads of an entry. */
function entry(seq: number, type: 'change.decision' | 'change.outcome', decisionId: string, atMs: number, extra: { flag?: string; env?: string; allow?: boolean; status?: string } = {}): AuditEntry {
  return {
    seq,
    entry_type: type,
    decision_id: decisionId,
    platform: 'unleash',
    flag_key: extra.flag ?? 'a',
    project: 'default',
    environment: extra.env ?? 'production',
    timestamp_utc: new Date(atMs).toISOString(),
    decision: { allow: extra.allow ?? true },
    outcome: type === 'change.outcome' ? { status: extra.status ?? 'applied' } : null,
  } as unknown as AuditEntry;
}

function event(id: number, atMs: number, extra: Partial<PlatformEvent> = {}): PlatformEvent {
  return { id, type: 'feature-environment-enabled', flagKey: 'a', project: 'default', environment: 'production', actor: SELF, timeMs: atMs, before: null, after: null, ...extra };
}

const baseline: Baseline = { seq: 10, checkedAtMs: T0, flags: { a: { project: 'default', state: { on: false } } }, digest: null, eventCursor: 100, windows: [] };

function check(over: Partial<CheckInput>) {
  return checkDrift({
    baseline,
    headSeq: 12,
    entries: [],
    snapshot: { flags: new Map([['a', { on: false }]]) },
    events: [],
    self: SELF,
    platform: 'unleash',
    source: 'state',
    nowMs: T0 + 60_000,
    skewMs: 1000,
    ...over,
  });
}

const changed = { flags: new Map([['a', { on: true }]]) };

describe('checkDrift', () => {
  it.each([
    { name: 'nothing changed', input: {}, want: [] },
    { name: 'a state change with no flaggate change', input: { snapshot: changed }, want: [['state', 'a']] },
    { name: 'a state change explained by a flaggate change since the last check', input: { snapshot: changed, entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 20)] }, want: [] },
    { name: 'a state change while a flaggate change is still in flight', input: { snapshot: changed, entries: [entry(11, 'change.decision', 'd1', T0 + 10)] }, want: [] },
    { name: 'a state change beside a flaggate change that failed', input: { snapshot: changed, entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 20, { status: 'failed' })] }, want: [['state', 'a']] },
    { name: 'a state change beside a denied change', input: { snapshot: changed, entries: [entry(11, 'change.decision', 'd1', T0 + 10, { allow: false })] }, want: [['state', 'a']] },
    { name: 'a state change beside a flaggate change to another flag', input: { snapshot: changed, entries: [entry(11, 'change.decision', 'd1', T0 + 10, { flag: 'b' }), entry(12, 'change.outcome', 'd1', T0 + 20, { flag: 'b' })] }, want: [['state', 'a']] },
    { name: 'an event by flaggate inside its change', input: { entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 30)], events: [event(101, T0 + 20)] }, want: [] },
    { name: 'an event by flaggate after its change ended (beyond the skew)', input: { entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 30)], events: [event(101, T0 + 5000)] }, want: [['event_log', 'a']] },
    { name: 'an event by another actor inside a flaggate change', input: { entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 30)], events: [event(101, T0 + 20, { actor: 'someone' })] }, want: [['event_log', 'a']] },
    { name: 'an event by flaggate in another environment', input: { entries: [entry(11, 'change.decision', 'd1', T0 + 10), entry(12, 'change.outcome', 'd1', T0 + 30)], events: [event(101, T0 + 20, { environment: 'development' })] }, want: [['event_log', 'a']] },
    { name: 'an event without a readable time', input: { entries: [entry(11, 'change.decision', 'd1', T0 + 10)], events: [event(101, Number.NaN)] }, want: [['event_log', 'a']] },
    { name: 'an event at or below the cursor (already looked at)', input: { events: [event(100, T0 + 20, { actor: 'someone' })] }, want: [] },
    { name: 'a state change that the same check reports as an event', input: { snapshot: changed, events: [event(101, T0 + 20, { actor: 'someone' })] }, want: [['event_log', 'a']] },
  ])('$name', ({ input, want }) => {
    expect(check(input).findings.map((f) => [f.source, f.flagKey])).toEqual(want);
  });

  it("takes states of a new form as the baseline without comparing them, and compares the next check's", () => {
    const reread = { flags: new Map([['a', { on: false, more: 'read' }]]), stateForm: 2 };
    const first = check({ snapshot: reread, events: [event(101, T0 + 20, { actor: 'someone' })] });
    // The form changed: no state finding, though every state differs; events are still compared.
    expect(first.findings.map((f) => [f.source, f.flagKey])).toEqual([['event_log', 'a']]);
    expect(first.baseline).toMatchObject({ stateForm: 2, flags: { a: { state: { on: false, more: 'read' } } } });
    const next = checkDrift({ baseline: first.baseline, headSeq: 13, entries: [], snapshot: { flags: new Map([['a', { on: true, more: 'read' }]]), stateForm: 2 }, events: [], self: SELF, platform: 'unleash', source: 'state', nowMs: T0 + 120_000, skewMs: 1000 });
    expect(next.findings.map((f) => [f.source, f.flagKey])).toEqual([['state', 'a']]);
  });

  it('explains a state change only once: a flaggate change that landed before the last check does not cover a later edit', () => {
    // The change ended before the previous snapshot, so the previous baseline already held its result.
    const carried = { ...baseline, windows: [{ decisionId: 'd0', flagKey: 'a', project: 'default', environment: 'production', fromMs: T0 - 50, toMs: T0 - 10, applied: true }] };
    expect(check({ baseline: carried, snapshot: changed }).findings).toHaveLength(1);
  });

  it('takes a baseline on the first check without reporting anything', () => {
    const first = check({ baseline: undefined, snapshot: changed, events: [event(7, T0, { actor: 'someone' })] });
    expect(first.findings).toEqual([]);
    expect(first.baseline).toMatchObject({ seq: 12, eventCursor: 7, flags: { a: { state: { on: true } } } });
  });

  it('reads the entries once, in order, from a generator, and the first check keeps only the windows a later check may need', () => {
    const nowMs = T0 + 60_000;
    let reads = 0;
    // A long history: every change closed long ago, but for one closed within twice the skew and one in flight.
    function* history() {
      for (let i = 0; i < 5000; i += 1) {
        reads += 1;
        yield entry(2 * i + 1, 'change.decision', `old${i}`, T0 + i);
        yield entry(2 * i + 2, 'change.outcome', `old${i}`, T0 + i + 1);
      }
      yield entry(20_001, 'change.decision', 'recent', nowMs - 1500);
      yield entry(20_002, 'change.outcome', 'recent', nowMs - 1000);
      yield entry(20_003, 'change.decision', 'open', nowMs - 10);
    }
    const first = check({ baseline: undefined, entries: history(), nowMs });
    expect(reads).toBe(5000);
    expect(first.baseline.windows.map((w) => w.decisionId)).toEqual(['recent', 'open']);
    // With a baseline, the same entries carry the same windows forward.
    expect(check({ entries: history(), nowMs }).baseline.windows.map((w) => w.decisionId)).toEqual(['recent', 'open']);
  });

  it('moves the baseline to what it saw, so a finding is reported once', () => {
    const once = check({ snapshot: changed });
    expect(check({ baseline: once.baseline, snapshot: changed, nowMs: T0 + 120_000 }).findings).toEqual([]);
  });

  it('takes a change as explaining a flag only from the state it was decided on, where the probe sees states as changes record them', () => {
    const decided = (from: unknown, atMs = T0 + 10) => [{ ...entry(11, 'change.decision', 'd1', atMs), previous_state: from } as AuditEntry, entry(12, 'change.outcome', 'd1', atMs + 10)];
    const file = { flags: new Map([['a', { on: true }]]), statesAsRecorded: true };
    expect(check({ source: 'file', snapshot: file, entries: decided({ on: false }) }).findings).toEqual([]);
    // Edited outside flaggate to { on: 'x' } first: the change that followed was decided on that.
    expect(check({ source: 'file', snapshot: file, entries: decided({ on: 'x' }) }).findings).toMatchObject([{ flagKey: 'a', before: { on: false }, after: { on: 'x' }, detail: expect.stringContaining('before flaggate') }]);
    // A change in flight at the last check may have been read before it: it cannot tell.
    expect(check({ source: 'file', snapshot: file, entries: decided({ on: 'x' }, T0 - 10) }).findings).toEqual([]);
    // Platforms whose probe reads states in another form than changes record: as before.
    expect(check({ snapshot: changed, entries: decided({ on: 'x' }) }).findings).toEqual([]);
  });

  it('reports a file whose bytes changed though no flag did, unless a flaggate change may have written it', () => {
    const file: Baseline = { ...baseline, digest: 'aa' };
    expect(check({ baseline: file, source: 'file', snapshot: { flags: new Map([['a', { on: false }]]), digest: 'bb' } }).findings).toMatchObject([{ flagKey: null, before: { sha256: 'aa' }, after: { sha256: 'bb' } }]);
    const written = check({ baseline: file, source: 'file', snapshot: { flags: new Map([['a', { on: false }]]), digest: 'bb' }, entries: [entry(11, 'change.decision', 'd1', T0 + 10)] });
    expect(written.findings).toEqual([]);
  });
});
