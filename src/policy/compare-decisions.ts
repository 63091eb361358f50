/** How a second decision on the same input differs from the first, as a security reviewer reads it. */
export type DisagreementKind = 'newly_denied' | 'newly_allowed' | 'approvals_changed';

export interface ComparableDecision {
  allow: boolean;
  requiredApprovals: number;
  approverRoles: readonly string[];
}

/** `undefined` when `after` decides as `before` did; approver roles compare as a set. */
export function compareDecisions(before: ComparableDecision, after: ComparableDecision): DisagreementKind | undefined {
  if (before.allow && !after.allow) return 'newly_denied';
  if (!before.allow && after.allow) return 'newly_allowed';
  const roles = (r: readonly string[]) => [...new Set(r)].sort().join('\n');
  if (before.requiredApprovals !== after.requiredApprovals || roles(before.approverRoles) !== roles(after.approverRoles)) return 'approvals_changed';
  return undefined;
}
