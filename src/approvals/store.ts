import type { FlagChange } from '../platforms/index.js';
import type { AuditEntry } from '../audit/index.js';
import type { Actor, AuthMethod } from '../identify/index.js';
import type { ChangeContext } from '../intercept/index.js';

/**
 * Where a held change stands. `pending` moves on once; `applying` (released to the forwarder) then
 * becomes `applied`, `failed` or `unknown`; every other status is final.
 */
export type ChangeStatus = 'pending' | 'applying' | 'applied' | 'failed' | 'unknown' | 'rejected' | 'expired' | 'stale' | 'denied';

/**
 * How an applying change ends: `applied` (the platform took it), `failed` (it refused it, or it was
 * never sent), `unknown` (sent, but no answer says whether it acted: a timeout, a reset, a 3xx).
 */
export type FinishedStatus = 'applied' | 'failed' | 'unknown';

/** The exact request held for approvals: enough to replay it byte for byte, minus the client's credential. */
export interface ChangeRequest {
  id: string;
  /** The decision id of the held request, as returned to the client. */
  decisionId: string;
  status: ChangeStatus;
  createdAt: string;
  expiresAt: string;
  requester: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  method: string;
  path: string;
  /** The lower-cased request headers a held change keeps (`heldHeaders`): media type and X-Flaggate-* context only. */
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  /** The normalized change, including the previous state seen when it was requested. */
  change: FlagChange;
  context: ChangeContext;
  requiredApprovals: number;
  approverRoles: string[];
  /** The sidecar and platform target that held it; null in rows stored before it was kept (applied nowhere). */
  heldBy: HeldBy | null;
}

/**
 * Where a change was held: the sidecar's chain and the platform it fronts. It is applied only there
 * (or by a sidecar that names that chain in `approvals.peerChains` and fronts the same target), so a
 * shared change table cannot carry one sidecar's change to another sidecar's platform.
 */
export interface HeldBy {
  chainId: string;
  /** The adapter's name. */
  platform: string;
  /** SHA-256 (hex) of the platform's target URL (for flagd, the flag file's path). */
  targetSha256: string;
}

/** One accepted approval: a person through the control port, or a signed token from an approval system. */
export interface Approval {
  approverId: string;
  roles: string[];
  /** How the approver authenticated (`client-credentials`: a service account); null in rows stored before it was kept, which then count for nobody. */
  authMethod: AuthMethod | null;
  approvedAt: string;
  reason: string | null;
  /** `token:<issuer>#<jti>` for an approval token; null for a control-port approval. */
  proof: string | null;
}

/**
 * Where held changes live: the local ledger file (one sidecar) or the central PostgreSQL ledger
 * (every replica of a fleet). Each conditional write is decided by the database, so it holds across
 * processes: one `settle` wins, one approval per approver, one use per approval-token jti.
 */
export interface ChangeStore {
  insert(request: ChangeRequest): Promise<void>;
  get(id: string): Promise<ChangeRequest | undefined>;
  list(status?: ChangeStatus): Promise<ChangeRequest[]>;
  /** Moves a pending request to `status`; false when it was no longer pending (another reviewer won). */
  settle(id: string, status: Exclude<ChangeStatus, 'pending'>): Promise<boolean>;
  /** Moves an `applying` request to what the platform answered; false when it was not applying. */
  finish(id: string, status: FinishedStatus): Promise<boolean>;
  /** Adds an approval; false when this approver already approved this request. */
  addApproval(id: string, approval: Approval): Promise<boolean>;
  approvals(id: string): Promise<Approval[]>;
  /** Marks an approval token's jti as spent; false when it already was (a replay). Durable on return. */
  spendJti(issuer: string, jti: string, changeKey: string, at: string): Promise<boolean>;
  /**
   * The ledger entries of one held change, from the ledger this store sits beside (the local file,
   * or every chain in the PostgreSQL ledger): the evidence a stored row is checked against.
   */
  evidence(changeRequestId: string): Promise<AuditEntry[]>;
  /**
   * Runs `work` while no other review of this change runs on any sidecar sharing this store, so that
   * a review reads the approvals, records its entry and stores its row before the next one reads them.
   */
  reviewing<T>(changeRequestId: string, work: (review: Review) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** What a review does while it holds its change. */
export interface Review {
  /** Throws AUDIT_WRITE_FAILED when the hold was lost (its session ended): the review must record nothing more. */
  confirmHeld(): Promise<void>;
  /** As `addApproval`, under the hold: with the shared store on the hold's own session, so a hold lost stores nothing. */
  addApproval(approval: Approval): Promise<boolean>;
}
