import type { NewEntry } from '../audit/index.js';
import { changeFields, entryActor, linkedArtifacts } from '../audit/index.js';
import type { Actor } from '../identify/index.js';
import type { PolicyRevision } from '../policy/index.js';
import type { Approval, ChangeRequest } from './store.js';

/** One review step of a held change: approved, rejected or expired, accepted or refused. */
export interface StepFacts {
  type: 'change.approved' | 'change.rejected' | 'change.expired';
  decisionId: string;
  actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  accepted: boolean;
  reasons: string[];
  errorCode: string | null;
  /** The reviewer's reason (approve/reject), or why it expired. */
  reason: string | null;
  approvals: Approval[];
  policy: PolicyRevision;
}

/**
 * The ledger entry for a review step: the held change's flag, request and context, the reviewer as
 * actor, and every approval counted so far; linked to the request by `change_request_id`.
 */
export function stepEntry(cr: ChangeRequest, f: StepFacts): NewEntry {
  const last = f.approvals[f.approvals.length - 1];
  return {
    entry_type: f.type,
    decision_id: f.decisionId,
    change_request_id: cr.id,
    actor: entryActor(f.actor),
    ...changeFields(cr.change),
    reason: f.reason,
    approval: approvalFacts(cr, f.approvals, last?.proof ?? null),
    linked_artifacts: linkedArtifacts(cr.context),
    decision: { allow: f.accepted, reasons: f.reasons, error_code: f.errorCode, policy_revision: f.policy.revision, policy_sha256: f.policy.sha256 },
    request: { method: cr.method, path: cr.path, body_sha256: cr.bodySha256 },
    outcome: null,
  };
}

/** The `approval` block of an entry: what is required and who approved, with the last proof given. */
export function approvalFacts(cr: Pick<ChangeRequest, 'requiredApprovals' | 'approverRoles'>, approvals: Approval[], proof: string | null): NewEntry['approval'] {
  const last = approvals[approvals.length - 1];
  const proofs = approvals.map((a) => a.proof).filter((p): p is string => p !== null);
  return {
    required: true,
    required_approvals: cr.requiredApprovals,
    approver_roles: [...cr.approverRoles],
    approved_by: approvals.map((a) => a.approverId),
    approved_at: last?.approvedAt ?? null,
    approval_proof: proof ?? (proofs.length > 0 ? proofs.join(' ') : null),
  };
}

/** An entry linked to a held change: the same entry with `change_request_id` and its approvals. */
export function linked(entry: NewEntry, cr: ChangeRequest, approvals: Approval[]): NewEntry {
  return { ...entry, change_request_id: cr.id, approval: approvalFacts(cr, approvals, null) };
}
