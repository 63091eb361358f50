import type { FlagChange } from '../platforms/index.js';
import type { AuthMethod } from '../identify/index.js';
import type { ChangeContext } from '../intercept/index.js';
import type { Approval, ChangeRequest, ChangeStatus, HeldBy } from './store.js';

/** A `change_requests` row, the same in SQLite and PostgreSQL: JSON as text, the body as bytes. */
export interface ChangeRow {
  id: string;
  decision_id: string;
  status: ChangeStatus;
  created_at: string;
  expires_at: string;
  requester: string;
  method: string;
  path: string;
  headers: string;
  body: Buffer;
  body_sha256: string;
  change: string;
  context: string;
  required: number;
  approver_roles: string;
  /** JSON of HeldBy; NULL in rows stored before it was kept. */
  held_by: string | null;
}

/** A `change_approvals` row. */
export interface ApprovalRow {
  approver_id: string;
  roles: string;
  auth_method: string | null;
  approved_at: string;
  reason: string | null;
  proof: string | null;
}

/** The columns of `change_requests`, in insert order. */
export const changeColumns = [
  'id', 'decision_id', 'status', 'created_at', 'expires_at', 'requester', 'method', 'path',
  'headers', 'body', 'body_sha256', 'change', 'context', 'required', 'approver_roles', 'held_by',
] as const satisfies ReadonlyArray<keyof ChangeRow>;

export function toRow(c: ChangeRequest): ChangeRow {
  return {
    id: c.id,
    decision_id: c.decisionId,
    status: c.status,
    created_at: c.createdAt,
    expires_at: c.expiresAt,
    requester: JSON.stringify(c.requester),
    method: c.method,
    path: c.path,
    headers: JSON.stringify(c.headers),
    body: c.body,
    body_sha256: c.bodySha256,
    change: JSON.stringify(c.change),
    context: JSON.stringify(c.context),
    required: c.requiredApprovals,
    approver_roles: JSON.stringify(c.approverRoles),
    held_by: c.heldBy === null ? null : JSON.stringify(c.heldBy),
  };
}

export function toRequest(r: ChangeRow): ChangeRequest {
  return {
    id: r.id,
    decisionId: r.decision_id,
    status: r.status,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    requester: JSON.parse(r.requester) as ChangeRequest['requester'],
    method: r.method,
    path: r.path,
    headers: JSON.parse(r.headers) as Record<string, string>,
    body: r.body,
    bodySha256: r.body_sha256,
    change: JSON.parse(r.change) as FlagChange,
    context: JSON.parse(r.context) as ChangeContext,
    requiredApprovals: r.required,
    approverRoles: JSON.parse(r.approver_roles) as string[],
    heldBy: r.held_by === null || r.held_by === undefined ? null : (JSON.parse(r.held_by) as HeldBy),
  };
}

export function toApproval(r: ApprovalRow): Approval {
  return { approverId: r.approver_id, roles: JSON.parse(r.roles) as string[], authMethod: r.auth_method as AuthMethod | null, approvedAt: r.approved_at, reason: r.reason, proof: r.proof };
}
