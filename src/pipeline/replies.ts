import { answerError, errorBody, type FlaggateError } from '../errors.js';
import type { Decision } from '../policy/index.js';
import type { Reply } from './stages.js';

/** The refusal a policy denial answers with: its reasons, what approvals would do, which policy. */
export function denied(decision: Decision): FlaggateError {
  return answerError('POLICY_DENIED', decision.reasons.join('; ') || 'denied by policy', {
    details: {
      reasons: decision.reasons,
      requiredApprovals: decision.requiredApprovals,
      approverRoles: decision.approverRoles,
      policy: decision.policy,
    },
  });
}

export function withDecisionId(reply: Reply, decisionId: string): Reply {
  return { ...reply, headers: { ...reply.headers, 'x-flaggate-decision-id': decisionId } };
}

/** `{ code, message, decisionId }` with its status; Retry-After where trying again can succeed. */
export function errorReply(error: FlaggateError, decisionId?: string): Reply {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (decisionId) headers['x-flaggate-decision-id'] = decisionId;
  if (error.code === 'REPLICATE_UNACKED' || error.code === 'AUDIT_WRITE_FAILED' || error.code === 'AUDIT_DISK_FULL') headers['retry-after'] = '5';
  if (error.status === 401) headers['www-authenticate'] = 'Bearer';
  return { status: error.status, headers, body: Buffer.from(JSON.stringify(errorBody(error, decisionId))) };
}
