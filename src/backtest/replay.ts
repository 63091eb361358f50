import type { AuditEntryBody } from '../audit/index.js';
import { asFlaggateError } from '../errors.js';
import { compareDecisions, type PolicyEngine } from '../policy/index.js';
import { rebuildPolicyInput } from './rebuild-input.js';

export interface ReplayDisagreement {
  seq: number;
  decision_id: string;
  /**
   * `decided_differently`, or why it could not be re-evaluated: no bundle with the recorded digest,
   * an archive copy named for that digest whose bytes differ (swapped or damaged), or a bundle that names another revision.
   */
  kind: 'decided_differently' | 'bundle_missing' | 'bundle_altered' | 'revision_mismatch';
  recorded: { allow: boolean; required_approvals: number; approver_roles: string[]; policy_revision: string | null; policy_sha256: string | null };
  replayed: { allow: boolean; required_approvals: number; approver_roles: string[]; error_code?: string } | null;
}

export interface ReplayReport {
  ok: boolean;
  /** Decisions re-evaluated or found unverifiable. */
  decisions: number;
  agreed: number;
  disagreements: ReplayDisagreement[];
  skipped: Record<string, number>;
}

/**
 * Re-evaluates each recorded policy decision with the bundle that made it (found by the entry's
 * `policy_sha256` among `bundles`) on its rebuilt input; `ok` only when every one agrees. A decision
 * rewritten in the ledger (and its chain recomputed) disagrees here, named by its `seq`.
 */
export function replayDecisions(
  entries: Iterable<AuditEntryBody>,
  bundles: ReadonlyMap<string, PolicyEngine>,
  range: { fromSeq?: number; toSeq?: number; altered?: ReadonlySet<string> } = {},
): ReplayReport {
  const report: ReplayReport = { ok: true, decisions: 0, agreed: 0, disagreements: [], skipped: {} };
  for (const entry of entries) {
    if (entry.seq < (range.fromSeq ?? 1) || entry.seq > (range.toSeq ?? Infinity)) continue;
    const rebuilt = rebuildPolicyInput(entry);
    if ('skipped' in rebuilt) {
      if (entry.entry_type === 'change.decision') report.skipped[rebuilt.skipped] = (report.skipped[rebuilt.skipped] ?? 0) + 1;
      continue;
    }
    report.decisions++;
    const recorded = {
      allow: entry.decision.allow, required_approvals: entry.approval.required_approvals, approver_roles: [...entry.approval.approver_roles],
      policy_revision: entry.decision.policy_revision, policy_sha256: entry.decision.policy_sha256,
    };
    const engine = entry.decision.policy_sha256 ? bundles.get(entry.decision.policy_sha256) : undefined;
    const disagree = (kind: ReplayDisagreement['kind'], replayed: ReplayDisagreement['replayed']) => {
      report.ok = false;
      report.disagreements.push({ seq: entry.seq, decision_id: entry.decision_id, kind, recorded, replayed });
    };
    if (!engine) {
      disagree(range.altered?.has(entry.decision.policy_sha256 ?? '') ? 'bundle_altered' : 'bundle_missing', null);
      continue;
    }
    if (engine.revision.revision !== entry.decision.policy_revision) {
      disagree('revision_mismatch', null);
      continue;
    }
    let replayed: NonNullable<ReplayDisagreement['replayed']>;
    try {
      const d = engine.decide(rebuilt.input);
      replayed = { allow: d.allow, required_approvals: d.requiredApprovals, approver_roles: d.approverRoles };
    } catch (err) {
      replayed = { allow: false, required_approvals: 0, approver_roles: [], error_code: asFlaggateError(err).code };
    }
    const same = replayed.error_code === undefined &&
      compareDecisions(
        { allow: recorded.allow, requiredApprovals: recorded.required_approvals, approverRoles: recorded.approver_roles },
        { allow: replayed.allow, requiredApprovals: replayed.required_approvals, approverRoles: replayed.approver_roles },
      ) === undefined;
    if (same) report.agreed++;
    else disagree('decided_differently', replayed);
  }
  return report;
}
