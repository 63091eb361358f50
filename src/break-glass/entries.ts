import { createHash } from 'node:crypto';
import type { AuditEntry, NewEntry } from '../audit/index.js';

const emptySha256 = createHash('sha256').update('').digest('hex');

export interface Reviewer {
  actor: NewEntry['actor'];
  /** What the reviewer found: the incident, whether the change was warranted, what follows. */
  reason: string;
  ticket: string | null;
  policy: { revision: string; sha256: string } | null;
}

/**
 * The `break_glass.reviewed` entry: a second person completes the retrospective review of the
 * break-glass change `decision` (its decision entry), saying whether it came after it was due.
 */
export function breakGlassReviewedEntry(decision: AuditEntry, by: Reviewer, overdue: boolean): NewEntry {
  return {
    entry_type: 'break_glass.reviewed',
    decision_id: decision.decision_id,
    change_request_id: null,
    actor: by.actor,
    action: 'break_glass.review',
    platform: decision.platform,
    project: decision.project,
    flag_key: decision.flag_key,
    environment: decision.environment,
    previous_state: decision.previous_state,
    new_state: decision.new_state,
    reason: by.reason,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: by.ticket ?? decision.linked_artifacts.ticket },
    decision: {
      allow: true,
      reasons: [`break-glass change by ${decision.actor.id} reviewed by ${by.actor.id}${overdue ? ' after it was due' : ''}`],
      error_code: null,
      policy_revision: by.policy?.revision ?? null,
      policy_sha256: by.policy?.sha256 ?? null,
    },
    request: { method: 'POST', path: `/v1/break-glass/${decision.decision_id}/review`, body_sha256: emptySha256 },
    outcome: null,
    break_glass: {
      reason: decision.break_glass?.reason ?? 'unrecorded',
      granted: true,
      review_due_at: decision.break_glass?.review_due_at ?? null,
      reviews: decision.decision_id,
      overdue,
    },
  };
}
