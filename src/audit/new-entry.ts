import type { FlagChange } from '../platforms/index.js';
import type { Actor } from '../identify/actor.js';
import type { ChangeContext } from '../intercept/change-context.js';
import type { Decision, PolicyRevision } from '../policy/decision.js';
import type { AuditEntry, NewEntry, OutcomeStatus } from './entry.js';

/** What is known about a write when its decision entry is made. */
export interface DecisionFacts {
  decisionId: string;
  actor: Actor;
  /** The normalized change; for writes no adapter recognized, a stand-in with action "unrecognized". */
  change: FlagChange;
  context: ChangeContext;
  /** The policy's decision, or the refusal that stood in for one. */
  decision: Decision | { refused: { code: string; message: string }; policy: PolicyRevision | null };
}

/** The actor as an entry records it. */
export function entryActor(actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>): NewEntry['actor'] {
  return { id: actor.id, display_name: actor.displayName, auth_method: actor.authMethod, roles: [...actor.roles] };
}

/** The change's fields as an entry records them (absent values as null). */
export function changeFields(change: FlagChange): Pick<NewEntry, 'action' | 'platform' | 'project' | 'flag_key' | 'environment' | 'previous_state' | 'new_state'> {
  return {
    action: change.action,
    platform: change.platform,
    project: change.project ?? null,
    flag_key: change.flagKey || null,
    environment: change.environment ?? null,
    previous_state: change.previousState ?? null,
    new_state: change.newState ?? null,
  };
}

/** Builds the decision entry for a write: allowed, denied by policy, or refused by a failure. */
export function decisionEntry(f: DecisionFacts): NewEntry {
  const refused = 'refused' in f.decision ? f.decision.refused : null;
  const decision = 'refused' in f.decision ? null : f.decision;
  const policy = f.decision.policy;
  return {
    entry_type: 'change.decision',
    decision_id: f.decisionId,
    change_request_id: null,
    actor: entryActor(f.actor),
    ...changeFields(f.change),
    reason: f.context.reason ?? null,
    approval: {
      required: (decision?.requiredApprovals ?? 0) > 0,
      required_approvals: decision?.requiredApprovals ?? 0,
      approver_roles: decision?.approverRoles ?? [],
      approved_by: [],
      approved_at: null,
      approval_proof: null,
    },
    linked_artifacts: { pr: f.context.links.pr ?? null, build: f.context.links.build ?? null, ticket: f.context.ticket ?? null },
    decision: {
      allow: decision?.allow ?? false,
      reasons: decision ? decision.reasons : [refused!.message],
      error_code: refused ? refused.code : decision!.allow ? null : 'POLICY_DENIED',
      policy_revision: policy?.revision ?? null,
      policy_sha256: policy?.sha256 ?? null,
    },
    request: { method: f.change.request.method, path: f.change.request.path, body_sha256: f.change.request.bodySha256 },
    outcome: null,
  };
}

export interface OutcomeFacts {
  status: OutcomeStatus;
  platformStatus?: number;
  errorCode?: string;
  detail?: string;
  responseSha256?: string;
}

/** The outcome entry chained after a decision: the same change, plus what happened to it. */
export function outcomeEntry(decision: AuditEntry, o: OutcomeFacts): NewEntry {
  const { chain_id: _c, seq: _s, prev_hash: _p, event_id: _e, timestamp_utc: _t, hash: _h, ...carried } = decision;
  return {
    ...carried,
    entry_type: 'change.outcome',
    outcome: {
      status: o.status,
      platform_status: o.platformStatus ?? null,
      error_code: o.errorCode ?? null,
      detail: o.detail ?? null,
      response_sha256: o.responseSha256 ?? null,
    },
  };
}
