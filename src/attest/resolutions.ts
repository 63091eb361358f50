import type { AuditEntry } from '../audit/index.js';
import { personKey } from '../approvals/index.js';
import { changesIn, evidenceOf, outcomeOf, type LedgerView, type RawFinding } from './facts.js';
import { tally } from '../recorded-text.js';

export interface DriftRecord {
  seq: number;
  event_id: string;
  detected_at: string;
  platform: string;
  flag_key: string | null;
  source: string | null;
  platform_event_id: string | null;
  platform_actor: string | null;
  resolution: { acknowledged_by: string; at: string; reason: string | null; seq: number } | null;
}

/** drift_resolved: every drift found in the period, with its acknowledgement; one without is a finding. */
export function checkDrift(view: LedgerView): { drift: DriftRecord[]; findings: RawFinding[] } {
  const acks = new Map<string, AuditEntry>();
  for (const e of view.all) if (e.entry_type === 'drift.acknowledged' && e.drift?.acknowledges && !acks.has(e.drift.acknowledges)) acks.set(e.drift.acknowledges, e);
  const drift: DriftRecord[] = [];
  const findings: RawFinding[] = [];
  for (const e of view.inPeriod) {
    if (e.entry_type !== 'drift.detected') continue;
    const ack = acks.get(e.event_id);
    drift.push({
      seq: e.seq, event_id: e.event_id, detected_at: e.timestamp_utc, platform: e.platform, flag_key: e.flag_key, source: e.drift?.source ?? null,
      platform_event_id: e.drift?.platform_event_id ?? null, platform_actor: e.drift?.platform_actor ?? null,
      resolution: ack ? { acknowledged_by: ack.actor.id, at: ack.timestamp_utc, reason: ack.reason, seq: ack.seq } : null,
    });
    if (!ack) {
      findings.push({ check: 'drift_resolved', severity: 'high', title: 'change made around flaggate, not acknowledged', detail: `${e.decision.reasons[0] ?? 'drift'}; nobody has acknowledged it`, evidence: { ...evidenceOf(e), actor: e.drift?.platform_actor ?? null } });
    }
  }
  return { drift, findings };
}

export interface BreakGlassRecord {
  seq: number;
  decision_id: string;
  at: string;
  flag_key: string | null;
  environment: string | null;
  requester: string;
  emergency: string;
  reason: string | null;
  ticket: string | null;
  outcome: string;
  review_due_at: string | null;
  review: { by: string; at: string; reason: string | null; late: boolean; seq: number } | null;
}

/**
 * break_glass_reviewed: every break-glass change granted in the period, with its review. No review
 * past its due time, a late one, or one by the requester is a finding; one not yet due is listed only.
 */
export function checkBreakGlass(view: LedgerView, asOf: string): { breakGlass: BreakGlassRecord[]; findings: RawFinding[] } {
  const reviews = new Map<string, AuditEntry>();
  for (const e of view.all) if (e.entry_type === 'break_glass.reviewed' && e.break_glass?.reviews && !reviews.has(e.break_glass.reviews)) reviews.set(e.break_glass.reviews, e);
  const breakGlass: BreakGlassRecord[] = [];
  const findings: RawFinding[] = [];
  for (const e of view.inPeriod) {
    if (e.entry_type !== 'change.decision' || e.break_glass?.granted !== true) continue;
    const review = reviews.get(e.decision_id);
    const due = e.break_glass.review_due_at;
    const late = review !== undefined && (review.break_glass?.overdue === true || (due !== null && review.timestamp_utc > due));
    breakGlass.push({
      seq: e.seq, decision_id: e.decision_id, at: e.timestamp_utc, flag_key: e.flag_key, environment: e.environment, requester: e.actor.id,
      emergency: e.break_glass.reason, reason: e.reason, ticket: e.linked_artifacts.ticket, outcome: outcomeOf(e, view), review_due_at: due,
      review: review ? { by: review.actor.id, at: review.timestamp_utc, reason: review.reason, late, seq: review.seq } : null,
    });
    const problem = !review
      ? due === null || due < asOf ? 'break-glass change not reviewed in time' : undefined
      : personKey(review.actor.id) === personKey(e.actor.id) ? 'break-glass change reviewed by its requester' : late ? 'break-glass change reviewed late' : undefined;
    if (problem) {
      findings.push({ check: 'break_glass_reviewed', severity: review ? 'medium' : 'high', title: problem, detail: `${e.action} of ${e.flag_key ?? '?'} by ${e.actor.id} skipped approvals ("${e.break_glass.reason}"); review due ${due ?? 'unknown'}${review ? `, reviewed by ${review.actor.id} at ${review.timestamp_utc}` : ', no review'}`, evidence: evidenceOf(e) });
    }
  }
  return { breakGlass, findings };
}

export interface ExperimentChanges {
  flag_key: string;
  experiments: string[];
  changes: Array<{ seq: number; decision_id: string; at: string; action: string; environment: string | null; actor: string; experiment: string | null; outcome: string }>;
}

/** The changes in the period to flags that carry an experiment (linked by any change up to the period's end). */
export function experimentChanges(view: LedgerView, periodEnd: string): ExperimentChanges[] {
  const experiments = new Map<string, Set<string>>();
  for (const e of view.all) {
    const linked = e.linked_artifacts.experiment;
    if (linked === undefined || e.flag_key === null || e.timestamp_utc >= periodEnd) continue;
    experiments.set(e.flag_key, (experiments.get(e.flag_key) ?? new Set()).add(linked));
  }
  const out = new Map<string, ExperimentChanges>();
  for (const e of changesIn(view)) {
    if (e.flag_key === null || !experiments.has(e.flag_key)) continue;
    const flag = out.get(e.flag_key) ?? { flag_key: e.flag_key, experiments: [...experiments.get(e.flag_key)!].sort(), changes: [] };
    flag.changes.push({ seq: e.seq, decision_id: e.decision_id, at: e.timestamp_utc, action: e.action, environment: e.environment, actor: e.actor.id, experiment: e.linked_artifacts.experiment ?? null, outcome: outcomeOf(e, view) });
    out.set(e.flag_key, flag);
  }
  return [...out.values()];
}

/** Changes in the period (one per request, `changesIn`), counted by flag, environment, actor and outcome. */
export function countChanges(view: LedgerView): Record<'by_flag' | 'by_environment' | 'by_actor' | 'by_outcome', Record<string, number>> {
  const counts = { by_flag: tally(), by_environment: tally(), by_actor: tally(), by_outcome: tally() };
  const bump = (table: Record<string, number>, key: string) => (table[key] = (table[key] ?? 0) + 1);
  for (const e of changesIn(view)) {
    bump(counts.by_flag, e.flag_key ?? '(none)');
    bump(counts.by_environment, e.environment ?? '(none)');
    bump(counts.by_actor, e.actor.id);
    bump(counts.by_outcome, outcomeOf(e, view));
  }
  return counts;
}
