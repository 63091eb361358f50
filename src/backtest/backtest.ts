import type { AuditEntryBody } from '../audit/index.js';
import { asFlaggateError } from '../errors.js';
import { compareDecisions, type Decision, type DisagreementKind, type PolicyEngine } from '../policy/index.js';
import { rebuildPolicyInput } from './rebuild-input.js';
import { printable, tally } from '../recorded-text.js';

/** A decision as compared: what was recorded, or what a bundle decides now. */
export interface DecisionFacts {
  allow: boolean;
  required_approvals: number;
  approver_roles: string[];
  /** Only on a re-evaluation: the candidate's reasons, or the code it failed with. */
  reasons?: string[];
  error_code?: string;
}

export type ChangeKind = DisagreementKind;

export interface BacktestChange {
  seq: number;
  decision_id: string;
  timestamp_utc: string;
  kind: ChangeKind;
  actor: string;
  roles: string[];
  action: string;
  environment: string | null;
  flag_key: string | null;
  before: DecisionFacts;
  after: DecisionFacts;
}

export interface BacktestReport {
  /** Recorded decisions the candidate re-evaluated. */
  decisions: number;
  changed: number;
  changes: BacktestChange[];
  /** Changed decisions counted by action, environment and role (a change counts once for each of its actor's roles). */
  by_action: Record<string, number>;
  by_environment: Record<string, number>;
  by_role: Record<string, number>;
  /** Entries in the period that were not re-evaluated, by why. */
  skipped: Record<string, number>;
  /** With a baseline: entries whose rebuilt input the baseline does not decide as recorded (left out of `changes`). */
  unreproduced: number[];
}

export interface BacktestOptions {
  candidate: PolicyEngine;
  /** The bundle that was active: entries it does not reproduce are reported apart, never as changes. */
  baseline?: PolicyEngine;
  /** ISO instants bounding `timestamp_utc` (from inclusive, to exclusive). */
  from?: string;
  to?: string;
}

function recorded(entry: AuditEntryBody): DecisionFacts {
  return { allow: entry.decision.allow, required_approvals: entry.approval.required_approvals, approver_roles: [...entry.approval.approver_roles] };
}

function decide(engine: PolicyEngine, input: Parameters<PolicyEngine['decide']>[0]): DecisionFacts {
  try {
    const d: Decision = engine.decide(input);
    return { allow: d.allow, required_approvals: d.requiredApprovals, approver_roles: d.approverRoles, reasons: d.reasons };
  } catch (err) {
    // A candidate that fails on a past input would refuse that change: fail closed, as the sidecar does.
    return { allow: false, required_approvals: 0, approver_roles: [], error_code: asFlaggateError(err).code };
  }
}

function kindOf(before: DecisionFacts, after: DecisionFacts): ChangeKind | undefined {
  const comparable = (d: DecisionFacts) => ({ allow: d.allow, requiredApprovals: d.required_approvals, approverRoles: d.approver_roles });
  return compareDecisions(comparable(before), comparable(after));
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

/**
 * Runs every recorded policy decision of a period through a candidate bundle and reports each one
 * it would decide differently: newly denied, newly allowed, or approvals required differently.
 */
export function backtestDecisions(entries: Iterable<AuditEntryBody>, o: BacktestOptions): BacktestReport {
  const report: BacktestReport = { decisions: 0, changed: 0, changes: [], by_action: tally(), by_environment: tally(), by_role: tally(), skipped: tally(), unreproduced: [] };
  const from = o.from ? Date.parse(o.from) : -Infinity;
  const to = o.to ? Date.parse(o.to) : Infinity;
  for (const entry of entries) {
    const at = Date.parse(entry.timestamp_utc);
    if (at < from || at >= to) continue;
    const rebuilt = rebuildPolicyInput(entry);
    if ('skipped' in rebuilt) {
      if (entry.entry_type === 'change.decision') bump(report.skipped, rebuilt.skipped);
      continue;
    }
    const before = recorded(entry);
    if (o.baseline && kindOf(before, decide(o.baseline, rebuilt.input)) !== undefined) {
      report.unreproduced.push(entry.seq);
      continue;
    }
    report.decisions++;
    const after = decide(o.candidate, rebuilt.input);
    const kind = kindOf(before, after);
    if (!kind) continue;
    report.changed++;
    report.changes.push({
      seq: entry.seq, decision_id: entry.decision_id, timestamp_utc: entry.timestamp_utc, kind,
      actor: entry.actor.id, roles: [...entry.actor.roles], action: entry.action, environment: entry.environment, flag_key: entry.flag_key,
      before, after,
    });
    bump(report.by_action, entry.action);
    bump(report.by_environment, entry.environment ?? 'none');
    for (const role of new Set(entry.actor.roles)) bump(report.by_role, role);
  }
  return report;
}

/** The report as a table for people: one line per changed decision, then the counts. */
export function formatBacktest(r: BacktestReport): string {
  const lines = [`${r.decisions} decisions re-evaluated, ${r.changed} would change`];
  if (r.changes.length > 0) {
    lines.push('', ['seq', 'change', 'actor', 'roles', 'action', 'environment', 'flag', 'before', 'after'].join('\t'));
    const facts = (d: DecisionFacts) => `${d.allow ? 'allow' : 'deny'}${d.required_approvals > 0 ? ` (${d.required_approvals} approval(s): ${d.approver_roles.join(',')})` : ''}${d.error_code ? ` ${d.error_code}` : ''}`;
    for (const c of r.changes) {
      const cells = [c.seq, c.kind, c.actor, c.roles.join(','), c.action, c.environment ?? '-', c.flag_key ?? '-', facts(c.before), facts(c.after)];
      lines.push(cells.map((cell) => printable(String(cell))).join('\t'));
    }
  }
  const counts = (title: string, m: Record<string, number>) => {
    const parts = Object.entries(m).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${printable(k)}=${v}`);
    if (parts.length > 0) lines.push(`${title}: ${parts.join(' ')}`);
  };
  lines.push('');
  counts('by action', r.by_action);
  counts('by environment', r.by_environment);
  counts('by role', r.by_role);
  counts('skipped', r.skipped);
  if (r.unreproduced.length > 0) lines.push(`not reproduced by the baseline (left out): seq ${r.unreproduced.join(', ')}`);
  return lines.join('\n') + '\n';
}
