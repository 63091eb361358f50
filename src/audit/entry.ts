/**
 * The audit entry: the one record format. The ledger row, the JSONL line, the export and the hash
 * input all derive from it. Field names are the auditor-facing ones (snake_case); absent values are
 * `null`, never omitted, so every entry has the same shape and canonical form.
 */
import type { z } from 'zod';
import type { auditEntryBodySchema, newEntrySchema } from './entry-schema.js';

/**
 * Every type here derives from the zod schema in entry-schema.ts (`z.infer`), which checks each
 * entry before it is written and generates docs/audit-entry.schema.json: one definition, no copy.
 */
export type AuditEntryBody = z.infer<typeof auditEntryBodySchema>;

/**
 * `change.decision` / `change.outcome`; `change.requested|approved|rejected|expired` for a held
 * change and each step of its review; `change.refusals_summarized` counts one actor's refusals
 * beyond the recording rate; `key.rotated` a signing key replaced by `flaggate keys rotate`;
 * `drift.detected|acknowledged` a change on the platform no flaggate change explains, and its acceptance;
 * `policy.activated` a policy bundle swapped in (which one, signed by whom, delivered from where).
 * `break_glass.reviewed` the retrospective review of a break-glass change by a second person.
 */
export type EntryType = AuditEntryBody['entry_type'];

/** `not_applied` and `unknown` come only from reconciling an in-doubt change after a crash. */
export type OutcomeStatus = NonNullable<AuditEntryBody['outcome']>['status'];

export type EntryActor = AuditEntryBody['actor'];

/**
 * Set (by the ledger) only on an entry that stands in for one that could not be recorded as is
 * (a value JSON cannot carry, too deep, too long a field): why, and the digest and an excerpt of
 * what was not recorded. The stand-in keeps what could be kept, capped.
 */
export type Unrecorded = NonNullable<AuditEntryBody['unrecorded']>;

/**
 * Only on drift entries (absent on every other type, so older entries keep their canonical form):
 * where the finding came from, the platform's own event id and actor when it has them, and on an
 * acknowledgement, which finding it acknowledges.
 */
export type DriftFacts = NonNullable<AuditEntryBody['drift']>;

/**
 * Only on the entries of a change that asked for break-glass (granted or not) and on its review:
 * the declared emergency, whether it was granted, when the review is due; on a review, which change.
 */
export type BreakGlassFacts = NonNullable<AuditEntryBody['break_glass']>;

/** An entry as stored: its body plus the hash that chains it. */
export type AuditEntry = AuditEntryBody & { hash: string };

/** The fields a writer supplies; chain position, identity and `unrecorded` are filled in by the ledger. */
export type NewEntry = z.infer<typeof newEntrySchema>;

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
