import Database from 'better-sqlite3';
import type { NewEntry } from '../../src/audit/index.js';

/** A plausible decision entry; `n` varies its content. */
export function sampleEntry(n: number, overrides: Partial<NewEntry> = {}): NewEntry {
  return {
    entry_type: 'change.decision',
    decision_id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    change_request_id: null,
    actor: { id: `user-${n % 3}`, display_name: `User ${n % 3}`, auth_method: 'dev-token', roles: ['release_engineer'] },
    action: n % 2 ? 'flag.enable' : 'flag.disable',
    platform: 'flagd',
    project: null,
    flag_key: `flag.${n}`,
    environment: 'production',
    previous_state: { state: 'DISABLED' },
    new_state: { state: 'ENABLED', note: `é ${n}` },
    reason: `change ${n}`,
    approval: { required: false, required_approvals: 0, approver_roles: [], approved_by: [], approved_at: null, approval_proof: null },
    linked_artifacts: { pr: null, build: null, ticket: `CHG-${n}` },
    decision: { allow: true, reasons: ['ok'], error_code: null, policy_revision: 'sha256:test', policy_sha256: 'ab'.repeat(32) },
    request: { method: 'POST', path: `/flags/flag.${n}/enable`, body_sha256: 'cd'.repeat(32) },
    outcome: null,
    ...overrides,
  };
}

/** Runs SQL on a ledger file behind the ledger's back, with the append-only triggers dropped. */
export function tamper(path: string, sql: string, ...params: unknown[]): number {
  const db = new Database(path);
  try {
    db.exec('DROP TRIGGER IF EXISTS audit_entries_no_update; DROP TRIGGER IF EXISTS audit_entries_no_delete;');
    return db.prepare(sql).run(...params).changes;
  } finally {
    db.close();
  }
}
