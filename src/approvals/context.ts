import type { AuditEntry, NewEntry, Recorder } from '../audit/index.js';
import { isoUtc, type Clock } from '../clock.js';
import type { Actor } from '../identify/index.js';
import type { RefusalLimiter } from '../intercept/index.js';
import type { Logger } from '../log.js';
import type { ApprovalsHook, Resume, Stages } from '../pipeline/index.js';
import type { Platform } from '../platforms/index.js';
import type { VerifyApprovalToken } from './approval-token.js';
import type { HeldEvidence } from './ledger-bound.js';
import type { Approval, ChangeRequest, ChangeStatus, ChangeStore, FinishedStatus, HeldBy } from './store.js';

export interface ApprovalsDeps {
  /** The status a held change answers with (see hold-apply.ts, heldStatusFor). */
  heldStatus: 202 | 409;
  clock: Clock;
  policy: Stages['policy'];
  /**
   * The platform a held change was made on, by the name its change carries (undefined when this
   * sidecar fronts none of that name): re-derives the held request and reads the state it was
   * decided against; never forwards.
   */
  platform(name: string): Pick<Platform, 'classify' | 'readState' | 'reach'> | undefined;
  /** Review steps and refusals are recorded; approved changes go back to the pipeline (`resume`). */
  record: Pick<Recorder, 'durable' | 'settled'>;
  resume: Resume;
  store: ChangeStore;
  logger: Logger;
  expirySeconds: number;
  verifyApprovalToken: VerifyApprovalToken;
  /** This sidecar's ledger entries of a held change: what a stored row is checked against. */
  evidence: HeldEvidence;
  /** The control port's base URL once it listens, for `approveUrl`. */
  controlUrl(): string | undefined;
  /**
   * This sidecar's chain and the target of its platform named `platform` (undefined when it fronts
   * none of that name); a held change is bound to the one it was made on.
   */
  sidecar(platform: string): HeldBy | undefined;
  /** Other chains whose held changes this sidecar may apply when it fronts the same target (a fleet of replicas). */
  peerChains: readonly string[];
  /**
   * The proxy's per-actor refusal rate: a refused review step beyond it is only counted, and the
   * count recorded as one summary entry per window (unset: every refused step is recorded).
   */
  refusals?: Pick<RefusalLimiter, 'admit'>;
}

/** What applying a held change led to. */
/** `applied`: the platform took the change; `failed`: it answered with an error (the outcome entry has the details). */
export type ApplyResult = { status: 'pending'; approvals: Approval[] } | { status: FinishedStatus; decisionId: string; platformStatus: number };

export type Reviewer = Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;

/** The approvals stage: holds changes, records every review step, applies the approved ones. */
export interface Approvals extends ApprovalsHook {
  list(status?: ChangeStatus): Promise<ChangeRequest[]>;
  get(id: string): Promise<{ request: ChangeRequest; approvals: Approval[] }>;
  approve(id: string, approver: Reviewer, reason: string | null): Promise<ApplyResult>;
  reject(id: string, reviewer: Reviewer, reason: string): Promise<void>;
  /**
   * Expires every pending request past its time (each gets a `change.expired` entry), and gives each
   * request left `applying` the status its outcome entry proves.
   */
  sweep(): Promise<number>;
}


/** What every step of the approvals stage works with: its dependencies, the time, and how steps are recorded. */
export interface ApprovalsContext extends ApprovalsDeps {
  now(): string;
  /** Accepted steps are durable before anything depends on them; refusals are settled without waiting on sinks. */
  recordStep(entry: NewEntry, accepted: boolean): Promise<AuditEntry>;
}

export function createContext(deps: ApprovalsDeps): ApprovalsContext {
  return {
    ...deps,
    now: () => isoUtc(deps.clock.now()),
    recordStep: (entry, accepted) => (accepted ? deps.record.durable(entry) : deps.record.settled(entry)),
  };
}
