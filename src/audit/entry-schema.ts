import { z } from 'zod';

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const isoUtc = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const text = z.string().max(4096);
const nullableText = text.nullable();

/**
 * The audit entry's schema: every entry is checked against it before it is written, and
 * `docs/audit-entry.schema.json` is generated from it (a test fails when the two drift apart).
 * The entry types in entry.ts (`AuditEntryBody`, `NewEntry`, …) are inferred from it.
 */
export const auditEntryBodySchema = z
  .strictObject({
    chain_id: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).describe('the chain this entry belongs to (one per sidecar replica)'),
    seq: z.number().int().positive().describe('position in the chain, from 1, without gaps'),
    prev_hash: hex64.describe('hash of the entry at seq - 1; 64 zeros for seq 1'),
    event_id: z.uuid().describe('unique id of this entry'),
    entry_type: z
      .enum(['change.decision', 'change.outcome', 'change.requested', 'change.approved', 'change.rejected', 'change.expired', 'change.refusals_summarized', 'key.rotated', 'drift.detected', 'drift.acknowledged', 'policy.activated', 'archive.sealed', 'break_glass.reviewed'])
      .describe(
        'decision before forwarding; outcome after (also when reconciled after a crash); requested, approved, rejected and expired for a change held for approvals; refusals_summarized counts the refusals of one actor beyond the recording rate (new_state holds the count and the window); key.rotated records a rotation of a signing key by `flaggate keys rotate` (previous_state and new_state name the old and new key); drift.detected, a change on the platform no flaggate change explains (previous_state: what flaggate last saw, new_state: what the platform holds now); drift.acknowledged, a person accepting one (with a reason); policy.activated, a policy bundle swapped in (previous_state: the bundle in force before; new_state: revision, sha256, the signing key id and who delivered it, a file path or a service URL and ETag; decision names the new bundle); archive.sealed, a sealed segment of the ledger stored under a COMPLIANCE lock and read back (new_state: bucket, key, version_id, retain_until, sha256 and the seq range); break_glass.reviewed, the retrospective review of a break-glass change by a second person',
      ),
    decision_id: z.uuid().describe('shared by a decision and its outcome; returned to the client as X-Flaggate-Decision-Id'),
    change_request_id: z.uuid().nullable().describe('the held change this entry belongs to; null on changes that were never held'),
    timestamp_utc: isoUtc.describe('when the entry was written, UTC, millisecond precision'),
    actor: z.strictObject({
      id: text.min(1),
      display_name: text,
      auth_method: z
        .enum(['jwt', 'oidc', 'dev-token', 'client-credentials', 'none', 'host', 'system'])
        .describe('client-credentials marks a service account; none, a write attempt whose token did not verify; host, a command run where the data directory is (the operating-system user); system, flaggate itself (the drift watcher)'),
      roles: z.array(text),
    }),
    action: text.min(1).describe("e.g. flag.enable, strategy.update; 'unrecognized' for a write no adapter knew"),
    platform: text.min(1),
    project: nullableText,
    flag_key: nullableText,
    environment: nullableText.describe("the environment; '*' for a change that spans several or every environment, null for one that alters none"),
    previous_state: z.unknown().describe('the flag as read from the platform before the change (targets, strategies, rollout where the platform has them); null if absent'),
    new_state: z.unknown().describe('what the request asks for, normalized'),
    reason: nullableText.describe('X-Flaggate-Reason'),
    approval: z.strictObject({
      required: z.boolean(),
      required_approvals: z.number().int().nonnegative(),
      approver_roles: z.array(text),
      approved_by: z.array(text),
      approved_at: isoUtc.nullable(),
      approval_proof: nullableText,
    }),
    linked_artifacts: z.strictObject({
      pr: nullableText,
      build: nullableText,
      ticket: nullableText,
      experiment: text.min(1).optional().describe('X-Flaggate-Link-Experiment: the experiment the flag carries; absent when none was linked (and on entries written before it was kept)'),
    }),
    context_sources: z
      .strictObject({ reason: z.enum(['header', 'token']).optional(), ticket: z.enum(['header', 'token']).optional() })
      .optional()
      .describe('where the reason and the ticket came from: the X-Flaggate-* header, or a claim of the verified token; absent when neither was given'),
    decision: z.strictObject({
      allow: z.boolean(),
      reasons: z.array(text),
      error_code: nullableText.describe('set when a failure, not the policy, refused the change'),
      policy_revision: nullableText.describe('the policy bundle revision that decided'),
      policy_sha256: hex64.nullable().describe('SHA-256 of the policy bundle tarball'),
    }),
    request: z.strictObject({ method: text.min(1), path: text.min(1), body_sha256: hex64 }),
    outcome: z
      .strictObject({
        status: z.enum(['applied', 'failed', 'not_forwarded', 'not_applied', 'unknown']),
        platform_status: z.number().int().nullable(),
        error_code: nullableText,
        detail: nullableText,
        response_sha256: hex64.nullable(),
      })
      .nullable()
      .describe('what happened to the change; null on decision entries'),
    unrecorded: z
      .strictObject({
        error_code: text.min(1),
        message: text,
        sha256: hex64.describe('SHA-256 of what could not be recorded, written as JSON text with sorted keys (its RFC 8785 form where one exists)'),
        bytes: z.number().int().nonnegative(),
        excerpt: text,
      })
      .nullable()
      .describe('null, except on an entry that stands in for one that could not be recorded as is: why, and a digest and excerpt of it; the stand-in keeps the rest, capped'),
    drift: z
      .strictObject({
        source: z.enum(['state', 'event_log', 'file']).describe("state: the platform's state differs from what flaggate last saw; event_log: the platform's own event log; file: the flag file's content"),
        platform_event_id: nullableText.describe("the platform's own id for the event, when it has one"),
        platform_actor: nullableText.describe('who the platform says made the change, when it says'),
        platform_time: nullableText.describe('when the platform says the change happened'),
        acknowledges: z.uuid().nullable().describe('on drift.acknowledged: the event_id of the drift.detected entry'),
      })
      .nullable()
      .optional()
      .describe('only on drift entries (absent on every other type)'),
    break_glass: z
      .strictObject({
        reason: text.min(1).describe('X-Flaggate-Break-Glass: the emergency the requester declared'),
        granted: z.boolean().describe('whether the policy granted break-glass (the wait for approvals skipped); false on a refused attempt'),
        review_due_at: isoUtc.nullable().describe('when the retrospective review by a second person is due; null when not granted'),
        reviews: z.uuid().nullable().describe('on break_glass.reviewed: the decision_id of the break-glass change reviewed'),
        overdue: z.boolean().nullable().describe('on break_glass.reviewed: whether the review came after it was due'),
      })
      .nullable()
      .optional()
      .describe('only on entries of a change that asked for break-glass, and on their review (absent on every other entry)'),
  })
  .describe('flaggate audit entry, without its hash: hash = SHA-256(prev_hash || RFC 8785 canonical JSON of this object)');

/** What a writer supplies (`NewEntry`): checked before an entry joins a commit. */
export const newEntrySchema = auditEntryBodySchema.omit({ chain_id: true, seq: true, prev_hash: true, event_id: true, timestamp_utc: true, unrecorded: true });

/** The JSON Schema published in docs/. */
export function auditEntryJsonSchema(): Record<string, unknown> {
  return { $id: 'https://flaggate.dev/schema/audit-entry.json', title: 'flaggate audit entry', ...z.toJSONSchema(auditEntryBodySchema) };
}
