import type { FlagChange, FlagRead } from '../platforms/index.js';
import type { Actor, AuthMethod } from '../identify/index.js';

/** What the policy sees. `change` is a write or a read; `context` carries the X-Flaggate-* headers. */
export interface PolicyInput {
  actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  change: FlagChange | FlagRead | { action: string; platform?: string; flagKey?: string; environment?: string };
  /** `authMethod` says how the approver authenticated: a service account's approval counts only where the policy data lists it. */
  approvals: Array<{ approverId: string; roles: string[]; approvedAt: string; authMethod: AuthMethod | null }>;
  context: {
    reason?: string;
    ticket?: string;
    /** X-Flaggate-Break-Glass: the emergency the requester declares; the policy says who may. */
    breakGlass?: string;
    links: { pr?: string; build?: string; experiment?: string };
    timeUtc: string;
  };
}

/** The policy bundle that made a decision. */
export interface PolicyRevision {
  revision: string;
  sha256: string;
}

export interface Decision {
  allow: boolean;
  /** For people: recorded and shown, never parsed. */
  reasons: string[];
  requiredApprovals: number;
  approverRoles: string[];
  /** Approvals are the only thing missing: the change is held for them instead of refused. */
  holdForApprovals: boolean;
  /** Alerts raised whatever was decided (an out-of-hours critical change, for one). */
  alerts: string[];
  /**
   * The policy grants this change break-glass (X-Flaggate-Break-Glass): missing approvals did not
   * hold it. Absent is false. The change is recorded with its emergency reason and reviewed afterwards.
   */
  breakGlass?: boolean;
  policy: PolicyRevision;
}
