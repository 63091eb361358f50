import type Database from 'better-sqlite3';
import { rowToEntry } from '../audit/index.js';
import type { StoredRow } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import { refuseEditsSqlite } from '../sqlite-append-only.js';
import { openDurableSqlite } from '../sqlite-durable.js';
import { changeColumns, toApproval, toRequest, toRow, type ApprovalRow, type ChangeRow } from './rows.js';
import type { Approval, ChangeStore } from './store.js';

const schema = `
CREATE TABLE IF NOT EXISTS change_requests (
  id            TEXT PRIMARY KEY,
  decision_id   TEXT NOT NULL,
  status        TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  expires_at    TEXT NOT NULL,
  requester     TEXT NOT NULL,
  method        TEXT NOT NULL,
  path          TEXT NOT NULL,
  headers       TEXT NOT NULL,
  body          BLOB NOT NULL,
  body_sha256   TEXT NOT NULL,
  change        TEXT NOT NULL,
  context       TEXT NOT NULL,
  required      INTEGER NOT NULL,
  approver_roles TEXT NOT NULL,
  held_by       TEXT
);
CREATE INDEX IF NOT EXISTS change_requests_status ON change_requests (status, created_at);
CREATE TABLE IF NOT EXISTS change_approvals (
  change_request_id TEXT NOT NULL REFERENCES change_requests (id),
  approver_id       TEXT NOT NULL,
  roles             TEXT NOT NULL,
  auth_method       TEXT,
  approved_at       TEXT NOT NULL,
  reason            TEXT,
  proof             TEXT,
  PRIMARY KEY (change_request_id, approver_id)
);
CREATE TABLE IF NOT EXISTS approval_token_jtis (
  issuer     TEXT NOT NULL,
  jti        TEXT NOT NULL,
  change_key TEXT NOT NULL,
  used_at    TEXT NOT NULL,
  PRIMARY KEY (issuer, jti)
);
${refuseEditsSqlite('approval_token_jtis', ['DELETE'])}
`;

/**
 * Change requests, their approvals and spent approval-token ids, in their own tables of the local
 * ledger file on their own connection (WAL, synchronous=FULL), as the token store does. For one
 * sidecar; a fleet shares the PostgreSQL store instead.
 */
export function openSqliteChangeStore(sqlitePath: string): ChangeStore {
  const db = openDurableSqlite(sqlitePath);
  db.exec(schema);
  addMissingColumns(db);
  const insert = db.prepare(`INSERT INTO change_requests (${changeColumns.join(', ')}) VALUES (${changeColumns.map((c) => `@${c}`).join(', ')})`);
  const get = db.prepare<[string], ChangeRow>('SELECT * FROM change_requests WHERE id = ?');
  const listAll = db.prepare<[], ChangeRow>('SELECT * FROM change_requests ORDER BY created_at, id');
  const listBy = db.prepare<[string], ChangeRow>('SELECT * FROM change_requests WHERE status = ? ORDER BY created_at, id');
  const settle = db.prepare("UPDATE change_requests SET status = ? WHERE id = ? AND status = 'pending'");
  const finish = db.prepare("UPDATE change_requests SET status = ? WHERE id = ? AND status = 'applying'");
  const addApproval = db.prepare(
    'INSERT OR IGNORE INTO change_approvals (change_request_id, approver_id, roles, auth_method, approved_at, reason, proof) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const approvals = db.prepare<[string], ApprovalRow>('SELECT * FROM change_approvals WHERE change_request_id = ? ORDER BY approved_at, approver_id');
  const spend = db.prepare('INSERT OR IGNORE INTO approval_token_jtis (issuer, jti, change_key, used_at) VALUES (?, ?, ?, ?)');

  // Synchronous underneath: a thrown error becomes a rejected promise through the async wrappers.
  const write = <T>(what: string, run: () => T): T => {
    try {
      return run();
    } catch (err) {
      throw new FlaggateError('AUDIT_WRITE_FAILED', `could not store ${what}`, { cause: err });
    }
  };

  const storeApproval = (id: string, a: Approval) =>
    write(`approval of ${id}`, () => addApproval.run(id, a.approverId, JSON.stringify(a.roles), a.authMethod, a.approvedAt, a.reason, a.proof).changes === 1);
  return {
    insert: async (c) => {
      write(`change request ${c.id}`, () => insert.run(toRow(c)));
    },
    get: async (id) => {
      const r = get.get(id);
      return r ? toRequest(r) : undefined;
    },
    list: async (status) => (status ? listBy.all(status) : listAll.all()).map(toRequest),
    settle: async (id, status) => write(`status of ${id}`, () => settle.run(status, id).changes === 1),
    finish: async (id, status) => write(`status of ${id}`, () => finish.run(status, id).changes === 1),
    addApproval: async (id, a) => storeApproval(id, a),
    approvals: async (id) => approvals.all(id).map(toApproval),
    spendJti: async (issuer, jti, changeKey, at) => write(`approval token ${jti}`, () => spend.run(issuer, jti, changeKey, at).changes === 1),
    evidence: async (id) => {
      // The ledger's own table, in the same file; absent only when no entry was ever written. Only
      // rows a chain can hold count: a row below seq 1 is no entry of it, whatever it says.
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_entries'").get();
      if (!table) return [];
      return db
        .prepare<[string], StoredRow>("SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq >= 1 AND json_extract(CASE WHEN json_valid(body) THEN body END, '$.change_request_id') = ? ORDER BY seq")
        .all(id)
        .map(rowToEntry);
    },
    // One sidecar owns a ledger file, and its approvals stage already runs one review of a change at a time.
    reviewing: (id, work) => work({ confirmHeld: async () => undefined, addApproval: async (a) => storeApproval(id, a) }),
    close: async () => {
      db.close();
    },
  };
}

/** Columns added since the first version, for ledger files made by it (rows before keep NULL). */
function addMissingColumns(db: Database.Database): void {
  const has = (table: string, column: string) => (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string }>).some((c) => c.name === column);
  if (!has('change_approvals', 'auth_method')) db.exec('ALTER TABLE change_approvals ADD COLUMN auth_method TEXT');
  if (!has('change_requests', 'held_by')) db.exec('ALTER TABLE change_requests ADD COLUMN held_by TEXT');
}
