import type { AuditEntry } from '../audit/index.js';
import { canonicalJson } from '../audit/index.js';
import { changeFields } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import type { ChangeContext } from '../intercept/index.js';
import { personKey } from './person.js';
import type { Approval, ChangeRequest } from './store.js';

/** Reads the entries the ledger holds for one held change. */
export type HeldEvidence = (changeRequestId: string) => AuditEntry[] | Promise<AuditEntry[]>;

/**
 * A held change as its ledger entries prove it, not as its row says. The row (which anyone with
 * write access to the change tables can insert) must have a `change.requested` entry in this
 * ledger (any chain of a shared PostgreSQL ledger) that records the same change; the requester, their roles and the context come
 * from that entry, and every approval counted must have its own accepted entry (a control-port
 * approval) or be named in the requested entry (an approval token presented with the request).
 * Throws CHANGE_TAMPERED otherwise.
 */
export function boundToLedger(cr: ChangeRequest, approvals: Approval[], entries: AuditEntry[]): { request: ChangeRequest; approvals: Approval[] } {
  const requested = entries.filter((e) => e.entry_type === 'change.requested');
  if (requested.length !== 1) throw tampered(cr, requested.length === 0 ? 'no change.requested entry in the ledger records it' : 'it has several change.requested entries');
  const entry = requested[0]!;
  if (entry.decision_id !== cr.decisionId) throw tampered(cr, 'its decision id is not the recorded one');
  const recorded = { ...pickChange(entry), request: entry.request };
  const stored = { ...changeFields(cr.change), request: { method: cr.change.request.method, path: cr.change.request.path, body_sha256: cr.change.request.bodySha256 } };
  if (canonicalJson(recorded) !== canonicalJson(stored)) throw tampered(cr, 'its change is not the one recorded when it was requested');

  const requester = { id: entry.actor.id, displayName: entry.actor.display_name, authMethod: entry.actor.auth_method as Actor['authMethod'], roles: [...entry.actor.roles] };
  const context: ChangeContext = { links: {} };
  if (entry.reason !== null) context.reason = entry.reason;
  if (entry.linked_artifacts.ticket !== null) context.ticket = entry.linked_artifacts.ticket;
  if (entry.linked_artifacts.pr !== null) context.links.pr = entry.linked_artifacts.pr;
  if (entry.linked_artifacts.build !== null) context.links.build = entry.linked_artifacts.build;
  if (entry.linked_artifacts.experiment !== undefined) context.links.experiment = entry.linked_artifacts.experiment;

  const approvedSteps = entries.filter((e) => e.entry_type === 'change.approved' && e.decision.allow);
  const proven = approvals.map((a) => {
    if (a.proof !== null) {
      // A token approval presented with the request: named, with its proof, in the requested entry.
      if (!entry.approval.approved_by.includes(a.approverId) || !(entry.approval.approval_proof ?? '').split(' ').includes(a.proof)) {
        throw tampered(cr, `the approval by ${a.approverId} has no entry`);
      }
      return a;
    }
    const step = approvedSteps.find((e) => personKey(e.actor.id) === personKey(a.approverId));
    if (!step) throw tampered(cr, `the approval by ${a.approverId} has no entry`);
    return { ...a, approverId: personKey(step.actor.id), roles: [...step.actor.roles], authMethod: step.actor.auth_method as Actor['authMethod'] };
  });
  return { request: { ...cr, requester, context, requiredApprovals: entry.approval.required_approvals, approverRoles: [...entry.approval.approver_roles] }, approvals: proven };
}

function pickChange(e: AuditEntry): ReturnType<typeof changeFields> {
  return {
    action: e.action,
    platform: e.platform,
    project: e.project,
    flag_key: e.flag_key,
    environment: e.environment,
    previous_state: e.previous_state,
    new_state: e.new_state,
  };
}

function tampered(cr: ChangeRequest, why: string): FlaggateError {
  return new FlaggateError('CHANGE_TAMPERED', `change request ${cr.id} is refused: ${why}`, { details: { changeRequestId: cr.id } });
}
