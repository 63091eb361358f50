import { createHash, randomUUID } from 'node:crypto';
import type { FlagChange } from '../platforms/index.js';
import type { Actor } from '../identify/index.js';
import type { ChangeContext } from '../intercept/index.js';
import type { Decision, PolicyRevision } from '../policy/index.js';
import { isoUtc } from '../clock.js';
import type { AuditEntry, NewEntry, OutcomeStatus } from './entry.js';
import { carriesMembersOf } from './entry-text.js';
import { capState } from './stand-in.js';

/** What is known about a write when its decision entry is made. */
export interface DecisionFacts {
  decisionId: string;
  actor: Actor;
  /** The normalized change; for writes no adapter recognized, a stand-in with action "unrecognized". */
  change: FlagChange;
  context: ChangeContext;
  /** The policy's decision, or the refusal that stood in for one. */
  decision: Decision | { refused: { code: string; message: string }; policy: PolicyRevision | null };
  /** When the review of a granted break-glass change is due (the pipeline knows the configured time). */
  breakGlassReviewDueAt?: string;
}

/** The actor as an entry records it. */
export function entryActor(actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>): NewEntry['actor'] {
  return { id: actor.id, display_name: actor.displayName, auth_method: actor.authMethod, roles: [...actor.roles] };
}

/** The change's fields as an entry records them (absent values as null). */
export function changeFields(change: FlagChange): Pick<NewEntry, 'action' | 'platform' | 'project' | 'flag_key' | 'environment' | 'previous_state' | 'new_state'> {
  return {
    action: change.action,
    platform: change.platform,
    project: change.project ?? null,
    flag_key: change.flagKey || null,
    environment: change.environment ?? null,
    previous_state: change.previousState ?? null,
    new_state: change.newState ?? null,
  };
}

/** Builds the decision entry for a write: allowed, denied by policy, or refused by a failure. */
export function decisionEntry(f: DecisionFacts): NewEntry {
  const refused = 'refused' in f.decision ? f.decision.refused : null;
  const decision = 'refused' in f.decision ? null : f.decision;
  const policy = f.decision.policy;
  return {
    entry_type: 'change.decision',
    decision_id: f.decisionId,
    change_request_id: null,
    actor: entryActor(f.actor),
    ...changeFields(f.change),
    reason: f.context.reason ?? null,
    approval: {
      required: (decision?.requiredApprovals ?? 0) > 0,
      required_approvals: decision?.requiredApprovals ?? 0,
      approver_roles: decision?.approverRoles ?? [],
      approved_by: [],
      approved_at: null,
      approval_proof: null,
    },
    linked_artifacts: linkedArtifacts(f.context),
    ...(f.context.sources ? { context_sources: { ...f.context.sources } } : {}),
    decision: {
      allow: decision?.allow ?? false,
      reasons: decision ? decision.reasons : [refused!.message],
      error_code: refused ? refused.code : decision!.allow ? null : 'POLICY_DENIED',
      policy_revision: policy?.revision ?? null,
      policy_sha256: policy?.sha256 ?? null,
    },
    request: { method: f.change.request.method, path: f.change.request.path, body_sha256: f.change.request.bodySha256 },
    outcome: null,
    ...breakGlassFacts(f, decision),
  };
}

/** The linked artifacts of a change context; `experiment` only when one was linked (older entries lack the key). */
export function linkedArtifacts(context: ChangeContext): NewEntry['linked_artifacts'] {
  const links: NewEntry['linked_artifacts'] = { pr: context.links.pr ?? null, build: context.links.build ?? null, ticket: context.ticket ?? null };
  if (context.links.experiment !== undefined) links.experiment = context.links.experiment;
  return links;
}

/**
 * The `break_glass` block of a change that asked for it: the declared emergency, whether the policy
 * granted it, and when its review is due. Absent on every other change, so their canonical form stays.
 */
function breakGlassFacts(f: DecisionFacts, decision: Decision | null): Pick<NewEntry, 'break_glass'> {
  if (f.context.breakGlass === undefined) return {};
  const granted = decision !== null && decision.allow && decision.breakGlass === true && f.breakGlassReviewDueAt !== undefined;
  return { break_glass: { reason: f.context.breakGlass, granted, review_due_at: granted ? f.breakGlassReviewDueAt! : null, reviews: null, overdue: null } };
}

export interface OutcomeFacts {
  status: OutcomeStatus;
  platformStatus?: number;
  errorCode?: string;
  detail?: string;
  responseSha256?: string;
}

/** The outcome entry chained after a decision: the same change, plus what happened to it. */
export function outcomeEntry(decision: AuditEntry, o: OutcomeFacts): NewEntry {
  const { chain_id: _c, seq: _s, prev_hash: _p, event_id: _e, timestamp_utc: _t, hash: _h, unrecorded: _u, ...carried } = decision;
  const outcome: NewEntry = {
    ...carried,
    entry_type: 'change.outcome',
    outcome: {
      status: o.status,
      platform_status: o.platformStatus ?? null,
      error_code: o.errorCode ?? null,
      detail: o.detail ?? null,
      response_sha256: o.responseSha256 ?? null,
    },
  };
  // The ledger then takes the decision's committed text of each member carried unchanged.
  carriesMembersOf(outcome, decision);
  return outcome;
}

/** A refused change's `new_state` is kept whole up to this size (canonical JSON, UTF-8 bytes). */
export const refusedStateBytes = 1024;

/**
 * The entry of a write that was denied or refused, bounded: nothing was applied, so a `new_state`
 * over 1 KiB is kept as `{ omitted: { sha256, bytes, excerpt } }` (the digest of its canonical JSON)
 * rather than whole; `request.body_sha256` still names the exact body. Allowed changes keep theirs.
 */
export function boundedRefusal(entry: NewEntry): NewEntry {
  return { ...entry, new_state: capState(entry.new_state, refusedStateBytes) };
}

/** What a refusal summary says: one actor, how many refusals went unrecorded one by one, when, and why. */
export interface RefusalSummaryFacts {
  actor: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  refusals: number;
  firstAt: number;
  lastAt: number;
  byCode: Record<string, number>;
  platform: string;
  policy: PolicyRevision | null;
}

/**
 * The entry that stands for refusals counted beyond an actor's recording rate: N further refusals
 * by actor X between t1 and t2, with the count per error code; nothing was forwarded for any of them.
 */
export function refusalSummaryEntry(f: RefusalSummaryFacts): NewEntry {
  const [from, to] = [isoUtc(f.firstAt), isoUtc(f.lastAt)];
  const byCode = Object.fromEntries(Object.entries(f.byCode).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    entry_type: 'change.refusals_summarized',
    decision_id: randomUUID(),
    change_request_id: null,
    actor: entryActor(f.actor),
    action: 'refusals.summarized',
    platform: f.platform,
    project: null,
    flag_key: null,
    environment: null,
    previous_state: null,
    new_state: { refusals: f.refusals, first_at: from, last_at: to, by_code: byCode },
    reason: null,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: null },
    decision: {
      allow: false,
      reasons: [`${f.refusals} further refusals by actor ${f.actor.id} between ${from} and ${to} were not recorded individually`],
      error_code: null,
      policy_revision: f.policy?.revision ?? null,
      policy_sha256: f.policy?.sha256 ?? null,
    },
    request: { method: '*', path: '*', body_sha256: createHash('sha256').update('').digest('hex') },
    outcome: null,
  };
}
