import { personKey } from '../approvals/index.js';
import type { AuditEntry } from '../audit/index.js';
import type { CheckId } from './controls.js';

/** A finding before it is mapped to controls: which check, how bad, what, and the entry that shows it. */
export interface RawFinding {
  check: CheckId;
  severity: 'high' | 'medium' | 'low';
  title: string;
  detail: string;
  evidence: { seq: number | null; decision_id: string | null; flag_key: string | null; environment: string | null; actor: string | null };
}

export interface Period {
  from: string;
  to: string;
}

/** Entries the report reads: the ledger in chain order (beyond the period too, for resolutions). */
export interface LedgerView {
  all: readonly AuditEntry[];
  inPeriod: readonly AuditEntry[];
  byDecision: Map<string, AuditEntry[]>;
}

export function viewOf(entries: readonly AuditEntry[], period: Period): LedgerView {
  const byDecision = new Map<string, AuditEntry[]>();
  for (const e of entries) byDecision.set(e.decision_id, [...(byDecision.get(e.decision_id) ?? []), e]);
  return { all: entries, inPeriod: entries.filter((e) => e.timestamp_utc >= period.from && e.timestamp_utc < period.to), byDecision };
}

export function evidenceOf(e: AuditEntry): RawFinding['evidence'] {
  return { seq: e.seq, decision_id: e.decision_id, flag_key: e.flag_key, environment: e.environment, actor: e.actor.id };
}

/** Whether a flag key matches one of the policy's critical-flag globs (`*` within a dot-separated part, case-insensitive, as the policy's glob.match). */
export function isCritical(flagKey: string | null, patterns: readonly string[]): boolean {
  if (flagKey === null) return false;
  return patterns.some((p) => {
    const source = p
      .toLowerCase()
      .split('')
      .map((ch) => (ch === '*' ? '[^.]*' : ch === '?' ? '[^.]' : ch.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('');
    return new RegExp(`^${source}$`).test(flagKey.toLowerCase());
  });
}

/**
 * The changes of the period, one per request: each decision entry, and each held request
 * (`change.requested`) not decided yet (an approved one's decision entry stands for it).
 */
export function changesIn(view: LedgerView): AuditEntry[] {
  const decided = new Set(view.all.filter((e) => e.entry_type === 'change.decision' && e.change_request_id !== null).map((e) => e.change_request_id));
  return view.inPeriod.filter((e) => e.entry_type === 'change.decision' || (e.entry_type === 'change.requested' && !decided.has(e.change_request_id)));
}

/** The outcome of a change: its outcome entry's status, else what its decision says. */
export function outcomeOf(decision: AuditEntry, view: LedgerView): string {
  if (decision.entry_type === 'change.requested') return 'held';
  if (!decision.decision.allow) return decision.decision.error_code && decision.decision.error_code !== 'POLICY_DENIED' ? 'refused' : 'denied';
  const outcome = view.byDecision.get(decision.decision_id)?.find((e) => e.entry_type === 'change.outcome');
  return outcome?.outcome?.status ?? 'in_doubt';
}

/** One critical change and what its approvals prove. */
export interface CriticalChange {
  seq: number;
  decision_id: string;
  at: string;
  flag_key: string | null;
  environment: string | null;
  action: string;
  requester: string;
  required_approvals: number;
  approved_by: string[];
  distinct_approvers: number;
  break_glass: boolean;
  outcome: string;
  ok: boolean;
}

/**
 * approvals_distinct: every allowed change to a critical flag (the policy said approvals were
 * required, or the flag matches a critical pattern) has as many approvers as required, none the
 * requester, each counted once. A granted break-glass is judged by its review instead.
 */
export function checkApprovals(view: LedgerView, criticalFlags: readonly string[]): { changes: CriticalChange[]; findings: RawFinding[] } {
  const changes: CriticalChange[] = [];
  const findings: RawFinding[] = [];
  for (const e of view.inPeriod) {
    if (e.entry_type !== 'change.decision' || !e.decision.allow) continue;
    if (!e.approval.required && !isCritical(e.flag_key, criticalFlags)) continue;
    const requester = personKey(e.actor.id);
    const keys = e.approval.approved_by.map(personKey);
    const distinct = new Set(keys.filter((k) => k !== requester));
    const required = Math.max(e.approval.required_approvals, 1);
    const breakGlass = e.break_glass?.granted === true;
    const selfOrTwice = keys.includes(requester) || new Set(keys).size !== keys.length;
    const ok = breakGlass || (distinct.size >= required && !selfOrTwice);
    changes.push({
      seq: e.seq, decision_id: e.decision_id, at: e.timestamp_utc, flag_key: e.flag_key, environment: e.environment, action: e.action, requester: e.actor.id,
      required_approvals: required, approved_by: [...e.approval.approved_by], distinct_approvers: distinct.size, break_glass: breakGlass, outcome: outcomeOf(e, view), ok,
    });
    if (ok) continue;
    findings.push({
      check: 'approvals_distinct',
      severity: 'high',
      title: distinct.size < required ? 'critical change without the required approvals' : 'critical change approved by the requester or by one person twice',
      detail: `${e.action} of ${e.flag_key ?? '?'} in ${e.environment ?? 'no environment'} by ${e.actor.id} was allowed with ${distinct.size} distinct approver(s) other than the requester; ${required} required (approved_by: ${JSON.stringify(e.approval.approved_by)})`,
      evidence: evidenceOf(e),
    });
  }
  return { changes, findings };
}

/**
 * authorized_principal: a change that went through was made by an authenticated principal with a
 * role, and every applied outcome follows an allowing decision of the same change.
 */
export function checkPrincipals(view: LedgerView): RawFinding[] {
  const findings: RawFinding[] = [];
  for (const e of view.inPeriod) {
    if (e.entry_type === 'change.decision' && e.decision.allow && (e.actor.auth_method === 'none' || e.actor.id === 'unauthenticated' || e.actor.roles.length === 0)) {
      findings.push({ check: 'authorized_principal', severity: 'high', title: 'change allowed for an unauthenticated principal or one without a role', detail: `${e.actor.id} (${e.actor.auth_method}, roles ${JSON.stringify(e.actor.roles)}) was allowed ${e.action} of ${e.flag_key ?? '?'}`, evidence: evidenceOf(e) });
    }
    if (e.entry_type === 'change.outcome' && e.outcome?.status === 'applied') {
      const decision = view.byDecision.get(e.decision_id)?.find((d) => d.entry_type === 'change.decision');
      if (decision?.decision.allow === true) continue;
      findings.push({ check: 'authorized_principal', severity: 'high', title: 'change applied without an allowing decision', detail: `the outcome entry ${e.seq} says applied, but ${decision ? `decision entry ${decision.seq} did not allow it` : 'no decision entry of the change is in the ledger read'}`, evidence: evidenceOf(e) });
    }
  }
  return findings;
}

/** The policy revisions that decided in the period, with how many decisions each made; a decision naming none is a finding. */
export function checkPolicyRevisions(view: LedgerView): { revisions: Array<{ revision: string; sha256: string; decisions: number; first_seen: string; last_seen: string }>; findings: RawFinding[] } {
  const byRevision = new Map<string, { revision: string; sha256: string; decisions: number; first_seen: string; last_seen: string }>();
  const findings: RawFinding[] = [];
  for (const e of view.inPeriod) {
    if (e.entry_type !== 'change.decision') continue;
    const { policy_revision: revision, policy_sha256: sha256 } = e.decision;
    if (revision === null || sha256 === null) {
      if (e.decision.allow) findings.push({ check: 'policy_in_force', severity: 'medium', title: 'allowed change names no policy revision', detail: `decision entry ${e.seq} allowed ${e.action} of ${e.flag_key ?? '?'} without naming the policy bundle that decided`, evidence: evidenceOf(e) });
      continue;
    }
    const key = `${revision}\u0000${sha256}`;
    const seen = byRevision.get(key) ?? { revision, sha256, decisions: 0, first_seen: e.timestamp_utc, last_seen: e.timestamp_utc };
    seen.decisions++;
    seen.last_seen = e.timestamp_utc;
    byRevision.set(key, seen);
  }
  return { revisions: [...byRevision.values()], findings };
}
