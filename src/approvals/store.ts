import Database from 'better-sqlite3';
import type { FlagChange } from '../adapters/adapter.js';
import { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/actor.js';
import type { ChangeContext } from '../intercept/change-context.js';

/** Where a held change stands. Only `pending` moves on; every other status is final. */
export type ChangeStatus = 'pending' | 'applied' | 'failed' | 'rejected' | 'expired' | 'stale' | 'denied';

/** The exact request held for approvals: enough to replay it byte for byte, minus the client's credential. */
export interface ChangeRequest {
  id: string;
  /** The decision id of the held request, as returned to the client. */
  decisionId: string;
  status: ChangeStatus;
  createdAt: string;
  expiresAt: string;
  requester: Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;
  method: string;
  path: string;
  /** Lower-cased request headers without Authorization. */
  headers: Record<string, string>;
  body: Buffer;
  bodySha256: string;
  /** The normalized change, including the previous state seen when it was requested. */
  change: FlagChange;
  context: ChangeContext;
  requiredApprovals: number;
  approverRoles: string[];
}

/** One accepted approval: a person through the control port, or a signed token from an approval system. */
export interface Approval {
  approverId: string;
  roles: string[];
  approvedAt: string;
  reason: string | null;
  /** `token:<issuer>#<jti>` for an approval token; null for a control-port approval. */
  proof: string | null;
}

export interface ChangeStore {
  insert(request: ChangeRequest): void;
  get(id: string): ChangeRequest | undefined;
  list(status?: ChangeStatus): ChangeRequest[];
  /** Moves a pending request to `status`; false when it was no longer pending (another reviewer won). */
  settle(id: string, status: Exclude<ChangeStatus, 'pending'>): boolean;
  /** Adds an approval; false when this approver already approved this request. */
  addApproval(id: string, approval: Approval): boolean;
  approvals(id: string): Approval[];
  /** Marks an approval token's jti as spent; false when it already was (a replay). Durable on return. */
  spendJti(issuer: string, jti: string, changeKey: string, at: string): boolean;
  close(): void;
}

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
  approver_roles TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS change_requests_status ON change_requests (status, created_at);
CREATE TABLE IF NOT EXISTS change_approvals (
  change_request_id TEXT NOT NULL REFERENCES change_requests (id),
  approver_id       TEXT NOT NULL,
  roles             TEXT NOT NULL,
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
CREATE TRIGGER IF NOT EXISTS approval_token_jtis_no_delete BEFORE DELETE ON approval_token_jtis
  BEGIN SELECT RAISE(ABORT, 'approval_token_jtis is append-only'); END;
`;

interface Row {
  id: string;
  decision_id: string;
  status: ChangeStatus;
  created_at: string;
  expires_at: string;
  requester: string;
  method: string;
  path: string;
  headers: string;
  body: Buffer;
  body_sha256: string;
  change: string;
  context: string;
  required: number;
  approver_roles: string;
}

interface ApprovalRow {
  approver_id: string;
  roles: string;
  approved_at: string;
  reason: string | null;
  proof: string | null;
}

const toRequest = (r: Row): ChangeRequest => ({
  id: r.id,
  decisionId: r.decision_id,
  status: r.status,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  requester: JSON.parse(r.requester) as ChangeRequest['requester'],
  method: r.method,
  path: r.path,
  headers: JSON.parse(r.headers) as Record<string, string>,
  body: r.body,
  bodySha256: r.body_sha256,
  change: JSON.parse(r.change) as FlagChange,
  context: JSON.parse(r.context) as ChangeContext,
  requiredApprovals: r.required,
  approverRoles: JSON.parse(r.approver_roles) as string[],
});

/**
 * Change requests, their approvals and spent approval-token ids, in their own tables of the local
 * ledger file on their own connection (WAL, synchronous=FULL), as the token store does.
 */
export function openChangeStore(sqlitePath: string): ChangeStore {
  const db = new Database(sqlitePath);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.exec(schema);
  const insert = db.prepare(
    `INSERT INTO change_requests (id, decision_id, status, created_at, expires_at, requester, method, path, headers, body, body_sha256, change, context, required, approver_roles)
     VALUES (@id, @decision_id, @status, @created_at, @expires_at, @requester, @method, @path, @headers, @body, @body_sha256, @change, @context, @required, @approver_roles)`,
  );
  const get = db.prepare<[string], Row>('SELECT * FROM change_requests WHERE id = ?');
  const listAll = db.prepare<[], Row>('SELECT * FROM change_requests ORDER BY created_at, id');
  const listBy = db.prepare<[string], Row>('SELECT * FROM change_requests WHERE status = ? ORDER BY created_at, id');
  const settle = db.prepare("UPDATE change_requests SET status = ? WHERE id = ? AND status = 'pending'");
  const addApproval = db.prepare(
    'INSERT OR IGNORE INTO change_approvals (change_request_id, approver_id, roles, approved_at, reason, proof) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const approvals = db.prepare<[string], ApprovalRow>('SELECT * FROM change_approvals WHERE change_request_id = ? ORDER BY approved_at, approver_id');
  const spend = db.prepare('INSERT OR IGNORE INTO approval_token_jtis (issuer, jti, change_key, used_at) VALUES (?, ?, ?, ?)');

  const write = <T>(what: string, run: () => T): T => {
    try {
      return run();
    } catch (err) {
      throw new FlaggateError('AUDIT_WRITE_FAILED', `could not store ${what}`, { cause: err });
    }
  };

  return {
    insert: (c) =>
      write(`change request ${c.id}`, () =>
        insert.run({
          id: c.id,
          decision_id: c.decisionId,
          status: c.status,
          created_at: c.createdAt,
          expires_at: c.expiresAt,
          requester: JSON.stringify(c.requester),
          method: c.method,
          path: c.path,
          headers: JSON.stringify(c.headers),
          body: c.body,
          body_sha256: c.bodySha256,
          change: JSON.stringify(c.change),
          context: JSON.stringify(c.context),
          required: c.requiredApprovals,
          approver_roles: JSON.stringify(c.approverRoles),
        }),
      ),
    get: (id) => {
      const r = get.get(id);
      return r ? toRequest(r) : undefined;
    },
    list: (status) => (status ? listBy.all(status) : listAll.all()).map(toRequest),
    settle: (id, status) => write(`status of ${id}`, () => settle.run(status, id).changes === 1),
    addApproval: (id, a) =>
      write(`approval of ${id}`, () => addApproval.run(id, a.approverId, JSON.stringify(a.roles), a.approvedAt, a.reason, a.proof).changes === 1),
    approvals: (id) =>
      approvals.all(id).map((r) => ({ approverId: r.approver_id, roles: JSON.parse(r.roles) as string[], approvedAt: r.approved_at, reason: r.reason, proof: r.proof })),
    spendJti: (issuer, jti, changeKey, at) => write(`approval token ${jti}`, () => spend.run(issuer, jti, changeKey, at).changes === 1),
    close: () => db.close(),
  };
}
