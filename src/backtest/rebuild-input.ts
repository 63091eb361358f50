import type { AuditEntryBody } from '../audit/index.js';
import { policyInput, type PolicyInput } from '../policy/index.js';

/** A recorded policy decision and the input rebuilt from its entry. */
export interface RecordedDecision {
  entry: AuditEntryBody;
  input: PolicyInput;
}

/**
 * Rebuilds the policy input of a `change.decision` entry the policy decided (not one refused by a
 * failure before or during evaluation). Returns why it cannot when the entry does not carry the
 * whole input: approvals (their approvers' roles are in other entries) are not rebuilt here.
 *
 * Entries do not yet record the input itself: the decision time is the entry's `timestamp_utc`
 * (taken just after the decision), so a policy that reads the time to the millisecond can differ.
 * A baseline run (the bundle that was active) finds every entry the rebuild does not reproduce.
 */
export function rebuildPolicyInput(entry: AuditEntryBody): RecordedDecision | { skipped: string } {
  if (entry.entry_type !== 'change.decision') return { skipped: 'not a decision entry' };
  if (entry.decision.error_code !== null || entry.decision.policy_revision === null) return { skipped: 'refused before a policy decision' };
  if (entry.approval.approved_by.length > 0) return { skipped: 'decided with approvals' };
  const change: PolicyInput['change'] = {
    platform: entry.platform,
    action: entry.action,
    flagKey: entry.flag_key ?? '',
    ...(entry.project !== null ? { project: entry.project } : {}),
    ...(entry.environment !== null ? { environment: entry.environment } : {}),
    // The entry keeps `null` for an absent state, as the classification gives a state or null.
    previousState: entry.previous_state,
    ...(entry.new_state !== null ? { newState: entry.new_state } : {}),
    request: { method: entry.request.method, path: entry.request.path, bodySha256: entry.request.body_sha256 },
  };
  const links: PolicyInput['context']['links'] = {};
  if (entry.linked_artifacts.pr !== null) links.pr = entry.linked_artifacts.pr;
  if (entry.linked_artifacts.build !== null) links.build = entry.linked_artifacts.build;
  if (entry.linked_artifacts.experiment !== undefined) links.experiment = entry.linked_artifacts.experiment;
  return {
    entry,
    input: policyInput({
      actor: { id: entry.actor.id, displayName: entry.actor.display_name, authMethod: entry.actor.auth_method as PolicyInput['actor']['authMethod'], roles: [...entry.actor.roles] },
      change,
      context: {
        ...(entry.reason !== null ? { reason: entry.reason } : {}),
        ...(entry.linked_artifacts.ticket !== null ? { ticket: entry.linked_artifacts.ticket } : {}),
        ...(entry.break_glass && entry.break_glass.reviews === null ? { breakGlass: entry.break_glass.reason } : {}),
        links,
      },
      timeUtc: entry.timestamp_utc,
    }),
  };
}
