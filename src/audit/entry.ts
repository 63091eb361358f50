/**
 * The audit entry: the one record format. The ledger row, the JSONL line, the export and the hash
 * input all derive from it. Field names are the auditor-facing ones (snake_case); absent values are
 * `null`, never omitted, so every entry has the same shape and canonical form.
 */
export type EntryType =
  | 'change.decision'
  | 'change.outcome'
  /** A change held for approvals, and each step of its review. */
  | 'change.requested'
  | 'change.approved'
  | 'change.rejected'
  | 'change.expired'
  /** Refusals by one actor beyond the recording rate, counted rather than recorded one by one. */
  | 'change.refusals_summarized'
  /** A signing key replaced by `flaggate keys rotate`; earlier public keys stay for verification. */
  | 'key.rotated'
  /** A change found on the platform that no flaggate change explains, and its acknowledgement. */
  | 'drift.detected'
  | 'drift.acknowledged';

/** `not_applied` and `unknown` come only from reconciling an in-doubt change after a crash. */
export type OutcomeStatus = 'applied' | 'failed' | 'not_forwarded' | 'not_applied' | 'unknown';

export interface EntryActor {
  id: string;
  display_name: string;
  auth_method: string;
  roles: string[];
}

export interface AuditEntryBody {
  chain_id: string;
  seq: number;
  prev_hash: string;
  event_id: string;
  entry_type: EntryType;
  /** Shared by a decision entry and its outcome entry. */
  decision_id: string;
  /** Present on every entry of a held change: its request, each review step, and its decision and outcome. */
  change_request_id: string | null;
  timestamp_utc: string;
  actor: EntryActor;
  action: string;
  platform: string;
  project: string | null;
  flag_key: string | null;
  environment: string | null;
  previous_state: unknown;
  new_state: unknown;
  reason: string | null;
  approval: {
    required: boolean;
    required_approvals: number;
    approver_roles: string[];
    approved_by: string[];
    approved_at: string | null;
    approval_proof: string | null;
  };
  linked_artifacts: { pr: string | null; build: string | null; ticket: string | null };
  decision: {
    allow: boolean;
    reasons: string[];
    /** Set when the change was refused by a failure rather than by the policy. */
    error_code: string | null;
    policy_revision: string | null;
    policy_sha256: string | null;
  };
  request: { method: string; path: string; body_sha256: string };
  /** Only on outcome entries. */
  outcome: {
    status: OutcomeStatus;
    platform_status: number | null;
    error_code: string | null;
    detail: string | null;
    response_sha256: string | null;
  } | null;
  /**
   * Set (by the ledger) only on an entry that stands in for one that could not be recorded as is
   * (a value JSON cannot carry, too deep, too long a field): why, and the digest and an excerpt of
   * what was not recorded. The stand-in keeps what could be kept, capped.
   */
  unrecorded: Unrecorded | null;
  /**
   * Only on drift entries (absent on every other type, so older entries keep their canonical form):
   * where the finding came from, the platform's own event id and actor when it has them, and on an
   * acknowledgement, which finding it acknowledges.
   */
  drift?: DriftFacts | null;
}

export interface DriftFacts {
  /** `state`: the platform's state differs; `event_log`: the platform's own event log; `file`: the flag file's content. */
  source: 'state' | 'event_log' | 'file';
  platform_event_id: string | null;
  platform_actor: string | null;
  /** When the platform says the change happened, if it says. */
  platform_time: string | null;
  /** On `drift.acknowledged`: the `event_id` of the `drift.detected` entry it acknowledges. */
  acknowledges: string | null;
}

export interface Unrecorded {
  error_code: string;
  message: string;
  sha256: string;
  bytes: number;
  excerpt: string;
}

/** An entry as stored: its body plus the hash that chains it. */
export interface AuditEntry extends AuditEntryBody {
  hash: string;
}

/** The fields a writer supplies; chain position, identity and `unrecorded` are filled in by the ledger. */
export type NewEntry = Omit<AuditEntryBody, 'chain_id' | 'seq' | 'prev_hash' | 'event_id' | 'timestamp_utc' | 'unrecorded'>;

/** The raw row as it sits in any store (SQLite, JSONL, export): what the verifier recomputes from. */
export interface StoredRow {
  seq: number;
  chain_id: string;
  prev_hash: string;
  hash: string;
  /** RFC 8785 canonical JSON of the entry without `hash`. */
  body: string;
}

export const GENESIS_HASH = '0'.repeat(64);
