import { createHash, randomUUID } from 'node:crypto';
import type { AuditEntry, NewEntry } from '../audit/index.js';
import { isoUtc } from '../clock.js';
import type { Finding } from './check.js';

const emptySha256 = createHash('sha256').update('').digest('hex');

/** The actor of a drift finding: flaggate itself, which saw it (who made the change is in `drift.platform_actor`). */
export const watcherActor: NewEntry['actor'] = { id: 'flaggate-drift-watcher', display_name: 'flaggate drift watcher', auth_method: 'system', roles: [] };

const noApproval: NewEntry['approval'] = { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null };
const noLinks: NewEntry['linked_artifacts'] = { pr: null, build: null, ticket: null };

/** The `drift.detected` entry of one finding: before is what flaggate last saw, after what the platform holds now. */
export function driftDetectedEntry(f: Finding, platform: string): NewEntry {
  return {
    entry_type: 'drift.detected',
    decision_id: randomUUID(),
    change_request_id: null,
    actor: watcherActor,
    action: 'drift.detected',
    platform,
    project: f.project,
    flag_key: f.flagKey,
    environment: f.environment,
    previous_state: f.before ?? null,
    new_state: f.after ?? null,
    reason: null,
    approval: noApproval,
    linked_artifacts: noLinks,
    decision: { allow: false, reasons: [f.detail.slice(0, 4096)], error_code: null, policy_revision: null, policy_sha256: null },
    request: { method: '*', path: '*', body_sha256: emptySha256 },
    outcome: null,
    drift: {
      source: f.source,
      platform_event_id: f.eventId,
      platform_actor: f.actor,
      platform_time: f.platformTimeMs === null ? null : isoUtc(f.platformTimeMs),
      acknowledges: null,
    },
  };
}

export interface Acknowledger {
  actor: NewEntry['actor'];
  reason: string;
  ticket: string | null;
  policy: { revision: string; sha256: string } | null;
}

/** The `drift.acknowledged` entry: a person accepts the finding `detected`, with a reason. */
export function driftAcknowledgedEntry(detected: AuditEntry, by: Acknowledger): NewEntry {
  return {
    entry_type: 'drift.acknowledged',
    decision_id: detected.decision_id,
    change_request_id: null,
    actor: by.actor,
    action: 'drift.acknowledge',
    platform: detected.platform,
    project: detected.project,
    flag_key: detected.flag_key,
    environment: detected.environment,
    previous_state: detected.previous_state,
    new_state: detected.new_state,
    reason: by.reason,
    approval: noApproval,
    linked_artifacts: { ...noLinks, ticket: by.ticket },
    decision: { allow: true, reasons: [`drift acknowledged by ${by.actor.id}`], error_code: null, policy_revision: by.policy?.revision ?? null, policy_sha256: by.policy?.sha256 ?? null },
    request: { method: 'POST', path: `/v1/drift/${detected.event_id}/acknowledge`, body_sha256: emptySha256 },
    outcome: null,
    drift: { ...(detected.drift ?? { source: 'state', platform_event_id: null, platform_actor: null, platform_time: null }), acknowledges: detected.event_id },
  };
}
