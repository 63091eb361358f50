import { randomUUID } from 'node:crypto';
import type { NewEntry, StoredRow } from '../audit/index.js';

/** What an `archive.sealed` entry records about one archived segment (its `new_state`). */
export interface ArchiveRecord {
  bucket: string;
  key: string;
  version_id: string;
  retention_mode: 'COMPLIANCE';
  retain_until: string;
  sha256: string;
  bytes: number;
  from_seq: number;
  to_seq: number;
  head_hash: string;
}

/** The `archive.sealed` entry: by `actor`, a segment stored, read back and found intact under its lock. */
export function archiveSealedEntry(r: ArchiveRecord, actor: NewEntry['actor']): NewEntry {
  const location = `s3://${r.bucket}/${r.key}`;
  return {
    entry_type: 'archive.sealed',
    decision_id: randomUUID(),
    change_request_id: null,
    actor,
    action: 'archive.seal',
    platform: 'flaggate',
    project: null,
    flag_key: null,
    environment: null,
    previous_state: null,
    new_state: r,
    reason: null,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: null },
    decision: { allow: true, reasons: [`seq ${r.from_seq}..${r.to_seq} archived to ${location} until ${r.retain_until}`], error_code: null, policy_revision: null, policy_sha256: null },
    request: { method: 'PUT', path: location, body_sha256: r.sha256 },
    outcome: { status: 'applied', platform_status: null, error_code: null, detail: `version ${r.version_id}`, response_sha256: null },
  };
}

/** The archive records in a run of stored rows, in chain order, each with the seq of the entry that records it. */
export function archiveRecordsIn(rows: readonly StoredRow[]): Array<{ seq: number; record: ArchiveRecord }> {
  const out: Array<{ seq: number; record: ArchiveRecord }> = [];
  for (const row of rows) {
    // Cheap test first: most rows are not archive entries, and parsing every body is the cost here.
    if (!row.body.includes('"archive.sealed"')) continue;
    const body = JSON.parse(row.body) as { entry_type?: string; new_state?: ArchiveRecord };
    if (body.entry_type === 'archive.sealed' && body.new_state) out.push({ seq: row.seq, record: body.new_state });
  }
  return out;
}
