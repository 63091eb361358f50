import { randomUUID } from 'node:crypto';
import { describeValue, safeText } from './describe-value.js';
import type { EntryActor, EntryType, NewEntry, OutcomeStatus } from './entry.js';
import { findNonJson } from './prepare-entry.js';

const textCap = 256;
const listCap = 16;
/** A state bigger than this (as canonical JSON), or not recordable, is kept as its digest and excerpt. */
const stateCap = 2048;

const entryTypes = new Set<EntryType>(['change.decision', 'change.outcome', 'change.requested', 'change.approved', 'change.rejected', 'change.expired', 'change.refusals_summarized', 'key.rotated', 'drift.detected', 'drift.acknowledged', 'policy.activated', 'archive.sealed']);
const outcomeStatuses = new Set<OutcomeStatus>(['applied', 'failed', 'not_forwarded', 'not_applied', 'unknown']);
const authMethods = new Set(['jwt', 'oidc', 'dev-token', 'client-credentials', 'none', 'host', 'system']);
const driftSources = new Set(['state', 'event_log', 'file']);
const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const hex64 = /^[0-9a-f]{64}$/;
const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * The entry recorded in place of one that cannot be recorded as is: built only from values checked
 * one by one and capped (texts to 256 characters, lists to 16, states over 2 KiB to their digest and
 * excerpt), so it is always recordable and small whatever the original held. A decision stands in
 * as a refusal (`allow: false`, `AUDIT_ENTRY_UNRECORDABLE`): a change nobody can describe is not
 * forwarded. Any other entry keeps its type and facts, so an outcome of a change that reached the
 * platform is never lost.
 */
export function standInEntry(entry: NewEntry, message: string): NewEntry {
  const e = (typeof entry === 'object' && entry !== null ? entry : {}) as Partial<Record<keyof NewEntry, unknown>>;
  const type = entryTypes.has(e.entry_type as EntryType) ? (e.entry_type as EntryType) : 'change.decision';
  const actor = record(e.actor);
  const approval = record(e.approval);
  const links = record(e.linked_artifacts);
  const decision = record(e.decision);
  const request = record(e.request);
  const outcome = e.outcome === null || e.outcome === undefined ? null : record(e.outcome);
  const drift = e.drift === null || e.drift === undefined ? undefined : record(e.drift);
  const breakGlass = e.break_glass === null || e.break_glass === undefined ? undefined : record(e.break_glass);
  const experiment = text(links.experiment);
  const isDecision = type === 'change.decision';
  return {
    entry_type: type,
    decision_id: match(e.decision_id, uuid) ?? randomUUID(),
    change_request_id: match(e.change_request_id, uuid),
    actor: {
      id: text(actor.id) || 'unknown',
      display_name: text(actor.display_name) ?? '',
      auth_method: authMethods.has(actor.auth_method as string) ? (actor.auth_method as EntryActor['auth_method']) : 'none',
      roles: texts(actor.roles),
    },
    action: text(e.action) || 'unrecorded',
    platform: text(e.platform) || 'unknown',
    project: text(e.project),
    flag_key: text(e.flag_key),
    environment: text(e.environment),
    previous_state: capState(e.previous_state, stateCap),
    new_state: capState(e.new_state, stateCap),
    reason: text(e.reason),
    approval: {
      required: approval.required === true,
      required_approvals: count(approval.required_approvals),
      approver_roles: texts(approval.approver_roles),
      approved_by: texts(approval.approved_by),
      approved_at: match(approval.approved_at, iso),
      approval_proof: text(approval.approval_proof),
    },
    linked_artifacts: { pr: text(links.pr), build: text(links.build), ticket: text(links.ticket), ...(experiment ? { experiment } : {}) },
    decision: {
      allow: isDecision ? false : decision.allow === true,
      reasons: isDecision ? [safeText(message, textCap)] : texts(decision.reasons),
      error_code: isDecision ? 'AUDIT_ENTRY_UNRECORDABLE' : text(decision.error_code),
      policy_revision: text(decision.policy_revision),
      policy_sha256: match(decision.policy_sha256, hex64),
    },
    request: {
      method: text(request.method) || '?',
      path: text(request.path) || '?',
      body_sha256: match(request.body_sha256, hex64) ?? describeValue('').sha256,
    },
    outcome: outcome && {
      status: outcomeStatuses.has(outcome.status as OutcomeStatus) ? (outcome.status as OutcomeStatus) : 'unknown',
      platform_status: Number.isSafeInteger(outcome.platform_status) ? (outcome.platform_status as number) : null,
      error_code: text(outcome.error_code),
      detail: text(outcome.detail),
      response_sha256: match(outcome.response_sha256, hex64),
    },
    ...(drift && {
      drift: {
        source: driftSources.has(drift.source as string) ? (drift.source as 'state' | 'event_log' | 'file') : 'state',
        platform_event_id: text(drift.platform_event_id),
        platform_actor: text(drift.platform_actor),
        platform_time: text(drift.platform_time),
        acknowledges: match(drift.acknowledges, uuid),
      },
    }),
    ...(breakGlass && {
      break_glass: {
        reason: text(breakGlass.reason) || 'unrecorded',
        // A stand-in decision is a refusal: nothing it describes was granted.
        granted: !isDecision && breakGlass.granted === true,
        review_due_at: isDecision ? null : match(breakGlass.review_due_at, iso),
        reviews: match(breakGlass.reviews, uuid),
        overdue: typeof breakGlass.overdue === 'boolean' ? breakGlass.overdue : null,
      },
    }),
  };
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function text(v: unknown): string | null {
  return typeof v === 'string' ? safeText(v, textCap) : null;
}

function texts(v: unknown): string[] {
  return Array.isArray(v) ? v.slice(0, listCap).map((item) => (typeof item === 'string' ? safeText(item, textCap) : '?')) : [];
}

function match(v: unknown, pattern: RegExp): string | null {
  return typeof v === 'string' && pattern.test(v) ? v : null;
}

function count(v: unknown): number {
  return Number.isSafeInteger(v) && (v as number) >= 0 ? (v as number) : 0;
}

/**
 * A state as an entry keeps it when it must stay small: itself when it is recordable JSON of at most
 * `maxBytes`, else `{ omitted: { sha256, bytes, excerpt } }` (the digest of its canonical JSON).
 */
export function capState(v: unknown, maxBytes: number): unknown {
  if (v === undefined || v === null) return null;
  if (findNonJson(v, 16) === null) {
    const small = JSON.stringify(v);
    if (Buffer.byteLength(small, 'utf8') <= maxBytes) return JSON.parse(small) as unknown;
  }
  return { omitted: describeValue(v) };
}
