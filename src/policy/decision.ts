import type { FlagChange, FlagRead } from '../platforms/index.js';
import type { Actor } from '../identify/actor.js';

/** What the policy sees. `change` is a write or a read; `context` carries the X-Flaggate-* headers. */
export interface PolicyInput {
  actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  change: FlagChange | FlagRead | { action: string; platform?: string; flagKey?: string; environment?: string };
  approvals: Array<{ approverId: string; roles: string[]; approvedAt: string }>;
  context: {
    reason?: string;
    ticket?: string;
    links: { pr?: string; build?: string };
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
  reasons: string[];
  requiredApprovals: number;
  approverRoles: string[];
  policy: PolicyRevision;
}
