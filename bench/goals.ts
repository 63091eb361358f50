/**
 * The performance goals, each measured beside its peer in the same run: the plain Node proxy for
 * latency and changes per second, node's raw chained SHA-256 for verify, the run without a
 * PostgreSQL sink for replication. A goal whose section did not run is left out.
 */
import type { LedgerResults } from './ledger.js';
import { percentile, type LatencyResult, type ThroughputResult } from './load.js';
import type { ReplicationResults } from './sections.js';
import type { CopyVerify } from './verify-copies.js';
import { ms, table } from './report.js';

/** What the goals read from the stub platform's run of sections 2 and 3. */
export interface GoalInputs {
  direct: LatencyResult;
  peer: LatencyResult;
  via: LatencyResult;
  throughput: Array<{ path: string; result: ThroughputResult }>;
  /** How flaggate's launcher line starts node (environment and flags), as one command prefix. */
  launchedAs: string;
  /** Peak RSS of fresh processes that ran only the 64-client load: with the launcher's flags, and with V8's own heap sizing. */
  heap?: { launched: { peakMiB: number }; launchedRuns: Array<{ peakMiB: number }>; v8Defaults: { peakMiB: number } };
  ledger?: LedgerResults;
  replication?: ReplicationResults;
  /** `verify-export` of an exported ledger, beside its raw chained SHA-256. */
  exportVerify?: CopyVerify;
  /** The work every change must do, each step measured on its own in this run: goals 1 and 2 restated on it. */
  floor?: GoalFloor;
}

/** Milliseconds of the steps a change cannot skip, p50 each, measured on their own (bench/durable.ts, the policy section). */
export interface GoalFloor {
  /** The WASM decision in a process launched as flaggate is. */
  decisionMs: number;
  /** The decision entry committed with its embedded TSA token in the same transaction. */
  sealedAppendMs: number;
  /** That entry's JSON Lines delivery (append, fsync). */
  jsonlDeliverMs: number;
  /** An entry committed on its own (what an outcome cost before it rode the next group commit): shown, not in the floor. */
  ledgerAppendMs: number;
  /** One entry's share of the event loop when 64 writers share the group commit (a token in each commit). */
  groupedEntryMs: number;
  /** Goal 1's durable steps were sampled between blocks of the one-client run through flaggate (else in their own section). */
  besideChanges?: boolean;
}

/** What one client's allowed change waits for, in order: decision, decision entry and token, JSON Lines (the outcome entry rides the next commit, after the reply). */
export const latencyFloor = (f: GoalFloor): number => f.decisionMs + f.sealedAppendMs + f.jsonlDeliverMs;
/** The event loop's time a change cannot skip under 64 clients: the decision and its entries' share of the group commits. */
const loopFloor = (f: GoalFloor, entries: number): number => f.decisionMs + entries * f.groupedEntryMs;

const p = (r: LatencyResult, q: number): number => percentile(r.samples, q);
const met = (ok: boolean): string => (ok ? 'yes' : '**no**');
const perSecond = (rows: GoalInputs['throughput'], path: string, clients = 64): number | undefined => rows.find((t) => t.path === path && t.result.clients === clients)?.result.perSecond;

/** One row per goal: what was measured, its peer in the same run, the ratio and whether it holds. */
export function renderGoals(g: GoalInputs): string[] {
  const rows: Array<Array<string | number>> = [];
  const peerAdded = p(g.peer, 50) - p(g.direct, 50);
  const added50 = p(g.via, 50) - p(g.direct, 50);
  const added99 = p(g.via, 99) - p(g.direct, 99);
  rows.push(['1. allowed change, added p50 ≤ 3× the plain proxy\'s added p50', `${ms(added50)} ms`, `${ms(peerAdded)} ms`, `${(added50 / peerAdded).toFixed(1)}×`, met(added50 <= 3 * peerAdded)]);
  rows.push(['1. allowed change over direct: ≤ 1.0 ms at p50, ≤ 4 ms at p99 (quiet machine)', `${ms(added50)} / ${ms(added99)} ms`, 'direct', '', met(added50 <= 1 && added99 <= 4)]);
  if (g.floor) {
    const floor = latencyFloor(g.floor);
    rows.push([
      '1, on the floor. allowed change, added p50 ≤ the floor + 3× the plain proxy\'s added p50',
      `${ms(added50)} ms: floor ${ms(floor)} + ${ms(added50 - floor)}`,
      `${ms(floor)} + 3 × ${ms(peerAdded)} = ${ms(floor + 3 * peerAdded)} ms`,
      `${((added50 - floor) / peerAdded).toFixed(1)}× beyond the floor`,
      met(added50 <= floor + 3 * peerAdded),
    ]);
  }
  const fg = perSecond(g.throughput, 'flaggate');
  const plain = perSecond(g.throughput, 'plain proxy');
  const denied = perSecond(g.throughput, 'flaggate, denied');
  if (fg !== undefined && plain !== undefined) {
    rows.push(['2. 64 clients, allowed changes/s ≥ 0.4× the plain proxy', fg.toFixed(0), plain.toFixed(0), `${(fg / plain).toFixed(3)}×`, met(fg >= 0.4 * plain)]);
    if (g.floor) rows.push(onFloor('allowed', fg, plain, loopFloor(g.floor, 2), 0.4));
    rows.push(['2. 64 clients, allowed changes/s ≥ 2,500 (quiet machine)', fg.toFixed(0), '', '', met(fg >= 2500)]);
  }
  if (denied !== undefined && plain !== undefined) {
    rows.push(['2. 64 clients, denied changes/s ≥ 0.8× the plain proxy', denied.toFixed(0), plain.toFixed(0), `${(denied / plain).toFixed(3)}×`, met(denied >= 0.8 * plain)]);
    if (g.floor) rows.push(onFloor('denied', denied, plain, loopFloor(g.floor, 1), 0.8));
  }
  const withPg = g.replication?.latency.find((l) => l.withPostgres);
  const without = g.replication?.latency.find((l) => !l.withPostgres);
  if (withPg && without) {
    const pgAdds = p(withPg.result, 50) - p(without.result, 50);
    rows.push(['3. a required PostgreSQL sink (fsync=on, synchronous_commit=on) adds ≤ 1.5 ms at p50', `${ms(pgAdds)} ms`, 'without the sink', '', met(pgAdds <= 1.5)]);
  }
  if (g.ledger) {
    const l = g.ledger;
    const verifyRate = l.verify.entries / l.verify.seconds;
    const rawSeconds = l.rawChain.seconds;
    rows.push([`4. verify of ${l.n} entries ≥ 300,000 entries/s`, verifyRate.toFixed(0), '', '', met(verifyRate >= 300_000)]);
    rows.push(['4. verify within 1.5× of node\'s raw chained SHA-256 over the same bytes', `${l.verify.seconds.toFixed(2)} s`, `${rawSeconds.toFixed(2)} s`, `${(l.verify.seconds / rawSeconds).toFixed(2)}×`, met(l.verify.seconds <= 1.5 * rawSeconds)]);
  }
  const copies: Array<[string, CopyVerify | undefined]> = [['`verify-export`', g.exportVerify], ['`verify --postgres`', g.replication?.drain.verify]];
  for (const [what, c] of copies) {
    if (!c) continue;
    const ratio = c.verify.seconds / c.rawChain.seconds;
    rows.push([`4. ${what} of ${c.rawChain.entries} entries in the same class: within 1.5× of node's raw chained SHA-256 over the same bytes`, `${c.verify.seconds.toFixed(2)} s (${(c.verify.entries / c.verify.seconds).toFixed(0)}/s)${c.verify.ok ? '' : ', FAILED'}`, `${c.rawChain.seconds.toFixed(2)} s`, `${ratio.toFixed(2)}×`, met(c.verify.ok && ratio <= 1.5)]);
  }
  if (g.heap) {
    const { launched, launchedRuns, v8Defaults } = g.heap;
    const runs = launchedRuns.length === 1 ? 'peak of a fresh process' : `highest peak of ${launchedRuns.length} fresh processes`;
    rows.push([`5. RSS under the 64-client load ≤ 150 MiB (${runs}, \`${g.launchedAs}\`)`, `${launched.peakMiB.toFixed(1)} MiB`, '', '', met(launched.peakMiB <= 150)]);
    rows.push(['5. the same with V8\'s and glibc\'s own sizing (no launcher settings)', `${v8Defaults.peakMiB.toFixed(1)} MiB`, '', '', met(v8Defaults.peakMiB <= 150)]);
  }
  return [
    '## Goals',
    '',
    'Each goal beside its peer in this run. The plain Node proxy (`bench/plain-proxy.mjs`: node:http in, node:http out over a keep-alive agent, bodies piped, no audit) fronts the same stub platform; the "quiet machine" rows are absolute and hold only where nothing else competes for the cores.',
    '',
    table(['goal', 'measured', 'peer', 'ratio', 'met'], rows),
    '',
    ...(g.floor ? renderFloor(g.floor) : []),
  ];
}

/**
 * Goal 2 on the floor: the ratio's budget a change (1 / (ratio × the plain proxy's rate): the plain
 * proxy's own time and what the ratio leaves beside it) on top of the event loop's floor.
 */
function onFloor(what: 'allowed' | 'denied', rate: number, plain: number, floorMs: number, ratio: number): Array<string | number> {
  const budgetMs = 1000 / (ratio * plain);
  const wanted = 1000 / (floorMs + budgetMs);
  return [
    `2, on the floor. 64 clients, ${what} changes/s ≥ 1 / (the floor + 1 / (${ratio} × the plain proxy's changes/s))`,
    rate.toFixed(0),
    `1 / (${ms(floorMs)} + ${ms(budgetMs)} ms) = ${wanted.toFixed(0)}`,
    `${(rate / wanted).toFixed(3)}×`,
    met(rate >= wanted),
  ];
}

function renderFloor(f: GoalFloor): string[] {
  return [
    `"On the floor": goals 1 and 2 restated on the work a change cannot skip, each step measured on its own in this run (\`bench/durable.ts\`, the policy section${f.besideChanges ? '; goal 1\'s durable steps in blocks between the blocks of the one-client run through flaggate, so that both sample the disk as it is then' : ''}): the ratios to the plain proxy then apply to what flaggate does beyond that work. Goal 1's floor is what one client's allowed change waits for, in order; goal 2's is the event loop's share under 64 clients (an allowed change two entries, a denied one one; under load the JSON Lines appends run on libuv's thread pool, off the event loop).`,
    '',
    table(
      ['step (p50, on its own)', 'ms', 'goal 1', 'goal 2'],
      [
        ['policy decision (WASM, in a process launched as flaggate)', ms(f.decisionMs), 'yes', 'yes'],
        ['decision entry committed with its embedded TSA token in the same transaction', ms(f.sealedAppendMs), 'yes', ''],
        ['its JSON Lines delivery (append, fsync)', ms(f.jsonlDeliverMs), 'yes', ''],
        ['an entry committed on its own (the outcome entry, before it rode the next commit after the reply)', ms(f.ledgerAppendMs), '', ''],
        ['one entry\'s share of group commits from 64 writers (a token in each commit)', ms(f.groupedEntryMs), '', 'allowed 2×, denied 1×'],
        ['**floor**', '', ms(latencyFloor(f)), `allowed ${ms(loopFloor(f, 2))}, denied ${ms(loopFloor(f, 1))}`],
      ],
    ),
    '',
  ];
}
