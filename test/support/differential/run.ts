/**
 * The differential runner: sends generated variants through flaggate on raw sockets, a batch at a
 * time (one variant per slot), then holds each against the ledger and against what the platform
 * itself reports. A variant is either refused (4xx with a code, and a decision entry), forwarded and
 * applied exactly as its entry says, or forwarded and refused by the platform with no effect.
 * Anything else is a disagreement.
 */
import fc from 'fast-check';
import type { AuditEntry } from '../../../src/audit/entry.js';
import { sendRaw, type RawHttpReply } from '../raw-http.js';
import type { DifferentialPlatform, LedgerView, Observation } from './platform.js';

/** How long after a disagreeing first reading the platform is read again. */
const LATE_READ_MS = 1_000;

export interface DifferentialOptions<Spec, Fact> {
  platform: DifferentialPlatform<Spec, Fact>;
  proxyPort: number;
  /** Added to every variant: the caller's token and whatever the policy wants (reason, ticket). */
  headers: ReadonlyArray<readonly [string, string]>;
  /** Entries appended since the previous call, in order. */
  readLedger(): Promise<AuditEntry[]>;
  runs: number;
  seed: number;
  /** Variants in flight at once; also the number of slots. */
  concurrency: number;
}

export interface Disagreement {
  /** What went wrong, in one word group: `platform differs`, `refused 5xx`, `unrecorded`, … */
  kind: string;
  index: number;
  route: string;
  variant: string;
  target: string;
  status: number;
  code: string | null;
  problems: string[];
}

export interface DifferentialReport {
  platform: string;
  seed: number;
  tried: number;
  /** Reached the platform (an outcome entry exists). */
  forwarded: number;
  applied: number;
  /** Forwarded, and the platform answered with an error. */
  platformRefused: number;
  refused: number;
  refusedByCode: Record<string, number>;
  byRoute: Record<string, { tried: number; applied: number; refused: number }>;
  disagreements: Disagreement[];
  /** Where the time went: preparing slots, sending variants, reading the platform and the ledger. */
  phasesMs?: Record<string, number>;
}

interface Sent<Spec> {
  index: number;
  spec: Spec;
  slot: number;
  target: string;
  reply?: RawHttpReply;
  error?: string;
}

export async function runDifferential<Spec, Fact>(o: DifferentialOptions<Spec, Fact>): Promise<DifferentialReport> {
  const p = o.platform;
  const specs = fc.sample(p.variants, { numRuns: o.runs, seed: o.seed });
  const report: DifferentialReport = {
    platform: p.name, seed: o.seed, tried: 0, forwarded: 0, applied: 0, platformRefused: 0, refused: 0,
    refusedByCode: {}, byRoute: {}, disagreements: [],
  };
  const entries = new Map<string, LedgerView>();
  const takeLedger = async (): Promise<void> => {
    for (const e of await o.readLedger()) {
      if (e.entry_type === 'change.decision') entries.set(e.decision_id, { decision: e });
      else if (e.entry_type === 'change.outcome') {
        const v = entries.get(e.decision_id);
        if (v) v.outcome = e;
      }
    }
  };

  const phases = { prepare: 0, send: 0, observe: 0 };
  for (let start = 0; start < specs.length; start += o.concurrency) {
    const batch: Sent<Spec>[] = specs.slice(start, start + o.concurrency).map((spec, i) => ({ index: start + i, spec, slot: i, target: '' }));
    const t0 = performance.now();
    const requests = await Promise.all(batch.map((b) => p.prepare(b.spec, b.slot)));
    const t1 = performance.now();
    // What preparing did is not the variants' doing: move past it first.
    const before = await p.observe();
    if (before.stray.length > 0) throw new Error(`platform changed outside any slot: ${before.stray.map(p.showFact).join(', ')}`);
    await Promise.all(
      batch.map(async (b, i) => {
        const req = requests[i]!;
        b.target = req.target;
        try {
          b.reply = await sendRaw(o.proxyPort, { ...req, headers: [...req.headers, ...o.headers] });
        } catch (err) {
          b.error = String(err);
        }
      }),
    );
    const t2 = performance.now();
    const seen = await p.observe();
    await takeLedger();
    const t3 = performance.now();
    phases.prepare += t1 - t0;
    phases.send += t2 - t1;
    phases.observe += t3 - t2;
    const late = lateObservation();
    await Promise.all(batch.map((b) => judge(b, seen.bySlot.get(b.slot) ?? [], late)));
    reportLateFacts(batch, late);
    const stray = [...seen.stray, ...(late.taken()?.stray ?? [])];
    if (stray.length > 0) {
      report.disagreements.push({
        kind: 'platform changed what no slot owns', index: start, route: '(batch)', variant: `batch of ${batch.length} from variant ${start}`, target: '', status: 0, code: null,
        problems: [`platform changes no slot owns: ${stray.map(p.showFact).join(', ')}`],
      });
    }
  }
  report.phasesMs = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.round(v)]));
  return report;

  /**
   * A second reading of the platform, taken at most once a batch and only when an applied variant
   * disagrees on the first: a platform may show an effect a moment after its reply (an event log
   * read through a search index or a replica). A disagreement that the second reading resolves is
   * none; every other slot's late facts are held against its verdict by the caller.
   */
  function lateObservation() {
    let reading: Promise<Observation<Fact>> | undefined;
    let taken: Observation<Fact> | undefined;
    return {
      rejudged: new Set<number>(),
      read: () => (reading ??= new Promise((r) => setTimeout(r, LATE_READ_MS)).then(() => p.observe()).then((o) => (taken = o))),
      taken: () => taken,
    };
  }

  /** A slot judged on the first reading whose platform acted after it: its variant's verdict was wrong. */
  function reportLateFacts(batch: Sent<Spec>[], late: ReturnType<typeof lateObservation>): void {
    for (const [slot, facts] of late.taken()?.bySlot ?? []) {
      if (late.rejudged.has(slot)) continue;
      const b = batch[slot]!;
      report.disagreements.push({
        kind: 'platform acted after the batch was read', index: b.index, route: p.routeOf(b.spec), variant: p.describe(b.spec), target: b.target.slice(0, 200), status: b.reply?.status ?? 0, code: codeOf(b.reply),
        problems: [`late platform facts: ${facts.map(p.showFact).join(', ')}`],
      });
    }
  }

  async function compareApplied(b: Sent<Spec>, view: LedgerView, facts: readonly Fact[], late: ReturnType<typeof lateObservation>): Promise<string[]> {
    const diffs = await p.compare(view, facts);
    if (diffs.length === 0) return diffs;
    const more = (await late.read()).bySlot.get(b.slot) ?? [];
    late.rejudged.add(b.slot);
    return more.length === 0 ? diffs : p.compare(view, [...facts, ...more]);
  }

  async function judge(b: Sent<Spec>, facts: readonly Fact[], late: ReturnType<typeof lateObservation>): Promise<void> {
    const route = p.routeOf(b.spec);
    const counts = (report.byRoute[route] ??= { tried: 0, applied: 0, refused: 0 });
    report.tried++;
    counts.tried++;
    const problems: string[] = [];
    let kind = '';
    const status = b.reply?.status ?? 0;
    const decisionId = b.reply?.headers['x-flaggate-decision-id'];
    const code = codeOf(b.reply);
    const view = decisionId ? entries.get(decisionId) : undefined;
    if (b.error) {
      problems.push(`no reply: ${b.error}`);
      kind ||= 'no reply';
    }
    if (!view) {
      problems.push('no decision entry for this request');
      kind ||= `unrecorded (${status} ${code ?? ''})`;
    }
    const outcome = view?.outcome?.outcome?.status;
    if (outcome === 'applied') {
      report.forwarded++;
      report.applied++;
      counts.applied++;
      if (status >= 400) problems.push(`applied, but the client got ${status}`);
      const diffs = await compareApplied(b, view!, facts, late);
      if (diffs.length > 0) kind ||= `platform differs from the ledger (${view!.decision.action})`;
      problems.push(...diffs);
    } else {
      if (facts.length > 0) {
        problems.push(`the ledger says ${outcome ?? 'not forwarded'}, the platform did: ${facts.map(p.showFact).join(', ')}`);
        kind ||= `platform acted, the ledger says ${outcome ?? 'not forwarded'}`;
      }
      if (view?.outcome) {
        report.forwarded++;
        report.platformRefused++;
      } else {
        report.refused++;
        counts.refused++;
        const key = code ?? `status ${status}`;
        report.refusedByCode[key] = (report.refusedByCode[key] ?? 0) + 1;
        if (status < 400 || status >= 500 || code === null) {
          problems.push(`refused with ${status} ${code ?? '(no code)'}: a refusal is a 4xx with a code (${b.reply?.body.toString('utf8').slice(0, 300)})`);
          kind ||= `refusal not a 4xx with a code (${status} ${code ?? ''})`;
        }
      }
    }
    if (problems.length > 0) {
      report.disagreements.push({ kind: kind || 'other', index: b.index, route, variant: p.describe(b.spec), target: b.target.slice(0, 200), status, code, problems });
    }
  }
}

function codeOf(reply: RawHttpReply | undefined): string | null {
  if (!reply || reply.status < 400) return null;
  try {
    const body = JSON.parse(reply.body.toString('utf8')) as { code?: unknown };
    return typeof body.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

/** Reads a flaggate ledger through its control port, page by page, from where the last call stopped. */
export function controlLedgerReader(controlUrl: string, token: string): () => Promise<AuditEntry[]> {
  let after = 0;
  return async () => {
    const out: AuditEntry[] = [];
    for (;;) {
      const res = await fetch(`${controlUrl}/v1/audit/entries?after=${after}&limit=1000`, { headers: { authorization: `Bearer ${token}` } });
      if (res.status !== 200) throw new Error(`reading the ledger: ${res.status} ${await res.text()}`);
      const page = (await res.json()) as { entries: AuditEntry[]; next_after: number | null };
      out.push(...page.entries);
      const last = page.entries[page.entries.length - 1];
      if (last) after = last.seq;
      if (page.next_after === null) return out;
    }
  };
}

/** The report in a few lines, with the disagreements by kind and a few of each in full. */
export function formatReport(r: DifferentialReport, perKind = 3): string {
  const lines = [
    `differential ${r.platform} (seed ${r.seed}): tried ${r.tried}, forwarded ${r.forwarded} (applied ${r.applied}, refused by the platform ${r.platformRefused}), refused by flaggate ${r.refused}, disagreements ${r.disagreements.length}`,
    `  refused by code: ${JSON.stringify(r.refusedByCode)}; time (ms): ${JSON.stringify(r.phasesMs ?? {})}`,
    ...Object.entries(r.byRoute).map(([route, c]) => `  ${route}: tried ${c.tried}, applied ${c.applied}, refused ${c.refused}`),
  ];
  const kinds = new Map<string, Disagreement[]>();
  for (const d of r.disagreements) kinds.set(d.kind, [...(kinds.get(d.kind) ?? []), d]);
  for (const [kind, list] of [...kinds].sort((a, b) => b[1].length - a[1].length)) {
    lines.push(`  ✗ ${list.length} × ${kind}`);
    for (const d of list.slice(0, perKind)) {
      lines.push(`      #${d.index} ${d.variant}\n        ${d.target}\n        → ${d.status} ${d.code ?? ''}: ${d.problems.join('; ').slice(0, 600)}`);
    }
  }
  return lines.join('\n');
}
