/**
 * The differential runner's judgement, against a platform double whose effects show when a test
 * says: an effect that shows a moment after its reply is read again and agrees; one that never
 * shows, or shows late for a variant already judged, is a disagreement.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/audit/entry.js';
import { runDifferential } from '../support/differential/run.js';
import type { DifferentialPlatform, LedgerView } from '../support/differential/platform.js';

/** How a variant's one effect shows on the platform: on the first reading, only on a later one, or never. */
type Shows = 'at once' | 'late' | 'never';
interface Spec {
  shows: Shows;
  /** Whether flaggate (the stand-in proxy) forwards it; a refused variant must leave no effect. */
  applied: boolean;
}
interface Fact {
  slot: number;
}

let server: Server;
let port = 0;
/** Requests the stand-in proxy answered since the ledger was last read: decision id and whether applied. */
let answered: Array<{ id: string; applied: boolean }> = [];

beforeAll(async () => {
  // Answers each variant as flaggate would: a decision id, 200 when applied, 403 with a code when not.
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const id = url.searchParams.get('id')!;
    const applied = url.searchParams.get('applied') === '1';
    answered.push({ id, applied });
    req.resume();
    req.on('end', () => {
      res.writeHead(applied ? 200 : 403, { 'x-flaggate-decision-id': id, 'content-type': 'application/json' });
      res.end(applied ? '{}' : '{"code":"POLICY_DENIED","message":"no"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const entry = (fields: Partial<AuditEntry>): AuditEntry => fields as AuditEntry;

/** A platform whose variant in each slot shows its effect as its spec says. */
function platformDouble(): DifferentialPlatform<Spec, Fact> {
  let sent = 0;
  // Effects not yet shown, with the reading they first show on.
  let pending: Array<{ slot: number; showsOnReading: number }> = [];
  let reading = 0;
  return {
    name: 'double',
    variants: fc.record({ shows: fc.constantFrom<Shows>('at once', 'late', 'never'), applied: fc.boolean() }),
    routeOf: () => 'POST /x',
    describe: (s) => `${s.shows}${s.applied ? '' : ', refused'}`,
    async prepare(spec, slot) {
      const id = `d-${++sent}`;
      // The effect happens when the variant is applied, or, for a refused one, only when `late` says so.
      if (spec.applied || spec.shows === 'late') {
        if (spec.shows !== 'never') pending.push({ slot, showsOnReading: reading + 2 + (spec.shows === 'late' ? 1 : 0) });
      }
      return { method: 'POST', target: `/x?id=${id}&applied=${spec.applied ? 1 : 0}`, headers: [] };
    },
    async observe() {
      reading += 1;
      const bySlot = new Map<number, Fact[]>();
      for (const p of pending.filter((x) => x.showsOnReading <= reading)) bySlot.set(p.slot, [...(bySlot.get(p.slot) ?? []), { slot: p.slot }]);
      pending = pending.filter((x) => x.showsOnReading > reading);
      return { bySlot, stray: [] };
    },
    compare: async (_view: LedgerView, facts) => (facts.length === 1 ? [] : [`${facts.length} effects, 1 expected`]),
    showFact: (f) => `effect in slot ${f.slot}`,
  };
}

/** Runs `specs` in order, cycled to `runs` variants, three slots a batch. */
async function run(specs: Spec[], runs = 6) {
  const platform = platformDouble();
  let next = 0;
  return runDifferential({
    platform: { ...platform, variants: fc.constant(null).map(() => specs[next++ % specs.length]!) },
    proxyPort: port,
    headers: [],
    readLedger: async () => {
      const out = answered.flatMap(({ id, applied }) => [
        entry({ entry_type: 'change.decision', decision_id: id, action: 'flag.enable' }),
        ...(applied ? [entry({ entry_type: 'change.outcome', decision_id: id, outcome: { status: 'applied' } as AuditEntry['outcome'] })] : []),
      ]);
      answered = [];
      return out;
    },
    runs,
    seed: 1,
    concurrency: 3,
  });
}

describe('the differential runner', () => {
  it('agrees with an applied change whose effect shows at once, or only when read again', async () => {
    const report = await run([{ shows: 'at once', applied: true }, { shows: 'late', applied: true }]);
    expect(report.applied).toBe(6);
    expect(report.disagreements).toEqual([]);
  });

  it('disagrees with an applied change whose effect never shows', async () => {
    const report = await run([{ shows: 'never', applied: true }]);
    expect(report.disagreements).toHaveLength(6);
    expect(report.disagreements[0]!.problems).toContain('0 effects, 1 expected');
  });

  it('disagrees with refused changes whose effects show on the second reading another variant asked for', async () => {
    // One batch: slot 0's applied effect never shows (so the batch is read again); slots 1 and 2 were refused, yet act late.
    const report = await run([{ shows: 'never', applied: true }, { shows: 'late', applied: false }, { shows: 'late', applied: false }], 3);
    expect(report.refused).toBe(2);
    expect(report.disagreements.map((d) => [d.index, d.kind])).toEqual([
      [0, 'platform differs from the ledger (flag.enable)'],
      [1, 'platform acted after the batch was read'],
      [2, 'platform acted after the batch was read'],
    ]);
  });
});
