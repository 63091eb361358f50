/**
 * The pipeline's public types: what the composition root hands it (`Stages`), what it answers
 * (`Reply`), and the two seams the approvals stage plugs into (`ApprovalsHook` to hold a change,
 * `Resume` to send an approved one back through the sequence).
 */
import type { Recorder } from '../audit/index.js';
import type { NewEntry } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import type { ChangeContext, ContextClaims } from '../intercept/index.js';
import type { RawRequest } from '../intercept/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DecidedRequest, FlagChange, Platform } from '../platforms/index.js';
import type { Decision, PolicyInput, PolicyRevision } from '../policy/index.js';

/** Everything the pipeline calls, built once by the composition root (`main.ts`). */
export interface Stages {
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  identify(authorization: string | undefined): Promise<Actor>;
  platform: Platform;
  policy: { decide(input: PolicyInput): Decision; readonly revision: PolicyRevision };
  record: Recorder;
  /** Token claims that carry a change's reason and ticket for tools that cannot send headers. */
  contextClaims: ContextClaims;
  /** Bounds how many refusals of one actor (the unauthenticated one too) are recorded one by one. */
  refusals: { admit(actor: Actor, code: string): boolean };
  /** Holds changes the policy says need approvals (absent when approvals are off). */
  approvals?: ApprovalsHook;
  /** Seconds within which a break-glass change must be reviewed (`breakGlass.reviewSeconds`; 24 h when absent). */
  breakGlassReviewSeconds?: number;
}

/** One reply, whoever made it: the platform, the pipeline's refusals, the approvals stage. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/** A write the policy allows only with approvals it does not have yet. */
export interface HeldWrite {
  req: RawRequest;
  actor: Actor;
  change: FlagChange;
  context: ChangeContext;
  decision: Decision;
  decisionId: string;
}

/**
 * The approvals stage as the pipeline sees it: either the change is held (a reply saying so), or
 * approval tokens it carries satisfied the policy and it goes on with the new decision, its entry
 * decorated with the approval proof.
 */
export interface ApprovalsHook {
  review(held: HeldWrite): Promise<{ held: Reply } | { decision: Decision; decorate(entry: NewEntry): NewEntry }>;
}

/** An approved held change, proven from the ledger, going back through the sequence at decide. */
export interface ResumedChange {
  requester: Actor;
  change: FlagChange;
  context: ChangeContext;
  /** The approvals the policy is asked to count. */
  approvals: PolicyInput['approvals'];
  /** The request re-derived from the stored bytes. */
  forward: DecidedRequest;
  /** Links an entry to its held change (change_request_id, the approvals counted). */
  link(entry: NewEntry): NewEntry;
  /**
   * Moves the held change out of pending, to `denied` or to `applying`; false when another caller
   * already did. Only the winner records and forwards, so a change is forwarded at most once.
   */
  claim(status: 'denied' | 'applying'): Promise<boolean>;
  /**
   * Run under the change's flag locks before it is decided: reads the platform's state again and
   * throws (refusing the change as stale) when it differs from the state the change was decided
   * against. Held under the locks through the forward, so no other change of these flags (another
   * approved change, a direct write through the proxy) can come between the check and the forward.
   */
  unchanged(): Promise<void>;
}

export type ResumeResult =
  | { status: 'pending' }
  | { status: 'refused'; error: FlaggateError }
  | { status: 'forwarded'; decisionId: string; reply: Reply; outcome: 'applied' | 'failed' | 'unknown' }
  | { status: 'failed'; decisionId: string; error: FlaggateError };

/** Sends an approved held change through decide, record, timestamp, replicate, forward, outcome. */
export type Resume = (held: ResumedChange) => Promise<ResumeResult>;
