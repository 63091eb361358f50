import { stringify } from 'csv-stringify/sync';
import type { AuditEntry } from './entry.js';

/**
 * The export package: one folder an auditor verifies offline with `flaggate verify-export`.
 *
 *   manifest.json          what, when, which period and filters; SHA-256 of every file
 *   manifest.jws           the manifest signed with the checkpoint key (its scope cannot be narrowed)
 *   chain.jsonl            every raw row (seq, chain_id, prev_hash, hash, body) from just after the
 *                          checkpoint before the period to the checkpoint at or after its end: the
 *                          context that proves the period connects to what came before and after
 *   entries.jsonl          the entries of the period that match the filters (with their hash)
 *   entries.csv            the same, flattened for spreadsheets
 *   checkpoints.json       the signed checkpoints that anchor and seal chain.jsonl
 *   keys.jwks.json         the checkpoint public keys (pin your own copy with --keys)
 *   policy-revisions.json  the policy bundles whose decisions appear in the entries
 *   policy-bundles/        those bundles' tarballs, `<sha256>.tar.gz`, from the sidecar's bundle archive
 *                          (listed in the manifest's files when present), for `flaggate replay --export`
 *   timestamps.json        RFC 3161 tokens (base64 DER) covering chain.jsonl, and the TSA certificates
 *   role-assignments.json  the roles, role mapping and approvers of the policy bundle in force (its data)
 *   retention-policy.json  the configured retention: the WORM archive's bucket, mode and days
 *   attestation/           the signed attestation report for the period, as `flaggate attest` writes it
 *                          (attestation.json, .html, .jws, keys.jwks.json); `flaggate attest verify` checks it
 * The last three are listed in the manifest's files when present (packages made before them lack them).
 */
export const EXPORT_FORMAT = 'flaggate-export/1';
/** The JWS type of `manifest.jws`, the signed copy of `manifest.json`. */
export const MANIFEST_TYP = 'flaggate-export-manifest+jws';

export interface ExportFilters {
  flag?: string;
  environment?: string;
  actor?: string;
  action?: string;
}

export interface ExportManifest {
  format: typeof EXPORT_FORMAT;
  chainId: string;
  createdAt: string;
  period: { from: string | null; to: string | null };
  filters: ExportFilters;
  /** chain.jsonl holds seq anchorSeq+1 .. sealSeq; the period's entries lie within. */
  anchorSeq: number;
  sealSeq: number;
  entries: number;
  files: Record<string, string>;
}

export interface ExportTimestamps {
  trustAnchorsPem: string;
  untrustedPem: string;
  tokens: Array<{ coversSeq: number; coversHash: string; token: string }>;
}

export const exportFiles = ['chain.jsonl', 'entries.jsonl', 'entries.csv', 'checkpoints.json', 'keys.jwks.json', 'policy-revisions.json', 'timestamps.json'] as const;

/** The evidence files beside the ledger's: the manifest may list them, and then verify-export checks their digests. */
export const evidenceFiles = [
  'role-assignments.json',
  'retention-policy.json',
  'attestation/attestation.json',
  'attestation/attestation.html',
  'attestation/attestation.jws',
  'attestation/keys.jwks.json',
] as const;

/** Whether any filter applies (else an entry's time alone decides whether it belongs). */
export function filtersApply(filters: ExportFilters): boolean {
  return Boolean(filters.flag || filters.environment || filters.actor || filters.action);
}

/** Whether an entry belongs in the filtered view of a period; only `timestamp_utc` is read when no filter applies. */
export function matchesExport(entry: AuditEntry, period: ExportManifest['period'], filters: ExportFilters): boolean {
  if (period.from && entry.timestamp_utc < period.from) return false;
  if (period.to && entry.timestamp_utc >= period.to) return false;
  if (filters.flag && entry.flag_key !== filters.flag) return false;
  if (filters.environment && entry.environment !== filters.environment) return false;
  if (filters.actor && entry.actor.id !== filters.actor) return false;
  if (filters.action && entry.action !== filters.action) return false;
  return true;
}

/** The CSV columns: one line per entry, nested values as canonical JSON. */
export const csvColumns = [
  'seq', 'event_id', 'entry_type', 'decision_id', 'timestamp_utc', 'actor_id', 'actor_display_name', 'actor_auth_method', 'actor_roles',
  'action', 'platform', 'project', 'flag_key', 'environment', 'reason', 'ticket', 'pr', 'build', 'allow', 'reasons', 'error_code',
  'approval_required', 'approved_by', 'policy_revision', 'policy_sha256', 'outcome_status', 'platform_status', 'previous_state',
  'new_state', 'request_method', 'request_path', 'request_body_sha256', 'prev_hash', 'hash',
] as const;

export function csvRow(e: AuditEntry): Array<string | number | boolean | null> {
  const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));
  return [
    e.seq, e.event_id, e.entry_type, e.decision_id, e.timestamp_utc, e.actor.id, e.actor.display_name, e.actor.auth_method, e.actor.roles.join(' '),
    e.action, e.platform, e.project, e.flag_key, e.environment, e.reason, e.linked_artifacts.ticket, e.linked_artifacts.pr, e.linked_artifacts.build,
    e.decision.allow, e.decision.reasons.join('; '), e.decision.error_code, e.approval.required, e.approval.approved_by.join(' '),
    e.decision.policy_revision, e.decision.policy_sha256, e.outcome?.status ?? null, e.outcome?.platform_status ?? null,
    json(e.previous_state), json(e.new_state), e.request.method, e.request.path, e.request.body_sha256, e.prev_hash, e.hash,
  ];
}

/**
 * `entries.csv`: the header line, then one line per entry. Cells come from callers (reasons,
 * tickets, display names, paths), and a spreadsheet runs a cell that starts with `=`, `+`, `-`, `@`,
 * a tab or a CR as a formula (CSV injection): such text cells get a leading `'`. Numbers keep their
 * sign; the seq and hash columns that `verify-export` compares never start with these characters.
 */
export function entriesCsv(entries: readonly AuditEntry[]): string {
  return csvHeader() + csvRecords(entries);
}

const csvOptions = { escape_formulas: true };

/** entries.csv's first line: the column names. */
export function csvHeader(): string {
  return stringify([Array.from(csvColumns)], csvOptions);
}

/**
 * entries.csv's records of `entries`, each with its line ending (a file is the header, then the
 * records): the same text as each record written on its own, in one call, since the library's
 * set-up for a call costs about as much as a record.
 */
export function csvRecords(entries: readonly AuditEntry[]): string {
  return stringify(entries.map(csvRow), csvOptions);
}
