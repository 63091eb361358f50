import { chainWritersSql, refuseEditsSql, rowPolicySql, runMigration, writerRoleSql } from '../replicate/index.js';
import type pg from 'pg';

/** SQLSTATEs the change tables raise on an edit outside the workflow. */
export const changeTableErrorCodes = { finalStatus: 'FGC01', appendOnly: 'FGC02' } as const;


/**
 * Workflow state beside the central ledger, shared by every sidecar: change requests (the held
 * bytes as bytea), their approvals and spent approval-token jtis. Not the ledger: a request's
 * status moves once, from `pending` to a final one; approvals and jtis are insert-only; nothing is
 * deleted. `flaggate_writer` gets SELECT and INSERT, plus UPDATE of `change_requests.status` only.
 * Row-level security names the writer: a request row and an approval row carry the chain of the
 * sidecar that wrote them, and a role inserts rows of its own registered chain only; settling a
 * status and spending a jti need a login registered for some chain of the fleet.
 */
const migration = `
${chainWritersSql}

CREATE TABLE IF NOT EXISTS flaggate.change_requests (
  id             text    PRIMARY KEY,
  decision_id    text    NOT NULL,
  status         text    NOT NULL,
  created_at     text    NOT NULL,
  expires_at     text    NOT NULL,
  requester      text    NOT NULL,
  method         text    NOT NULL,
  path           text    NOT NULL,
  headers        text    NOT NULL,
  body           bytea   NOT NULL,
  body_sha256    text    NOT NULL CHECK (body_sha256 ~ '^[0-9a-f]{64}$'),
  change         text    NOT NULL,
  context        text    NOT NULL,
  required       integer NOT NULL CHECK (required >= 0),
  approver_roles text    NOT NULL,
  held_by        text
);
CREATE INDEX IF NOT EXISTS change_requests_status ON flaggate.change_requests (status, created_at);
-- Named and replaced on every run, so a new status reaches databases made by earlier versions.
ALTER TABLE flaggate.change_requests DROP CONSTRAINT IF EXISTS change_requests_status_check;
ALTER TABLE flaggate.change_requests ADD CONSTRAINT change_requests_status_check
  CHECK (status IN ('pending', 'applying', 'applied', 'failed', 'unknown', 'rejected', 'expired', 'stale', 'denied'));

CREATE TABLE IF NOT EXISTS flaggate.change_approvals (
  change_request_id text NOT NULL REFERENCES flaggate.change_requests (id),
  approver_id       text NOT NULL,
  roles             text NOT NULL,
  auth_method       text,
  approved_at       text NOT NULL,
  reason            text,
  proof             text,
  PRIMARY KEY (change_request_id, approver_id)
);

-- Columns added since the first version (rows before keep NULL).
ALTER TABLE flaggate.change_approvals ADD COLUMN IF NOT EXISTS auth_method text;
ALTER TABLE flaggate.change_requests ADD COLUMN IF NOT EXISTS held_by text;

CREATE TABLE IF NOT EXISTS flaggate.approval_token_jtis (
  issuer     text NOT NULL,
  jti        text NOT NULL,
  change_key text NOT NULL,
  used_at    text NOT NULL,
  PRIMARY KEY (issuer, jti)
);

-- A request leaves pending once (applying then ends applied or failed), and only its status
-- changes; it is never deleted.
CREATE OR REPLACE FUNCTION flaggate.settle_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND (to_jsonb(NEW) - 'status') IS NOT DISTINCT FROM (to_jsonb(OLD) - 'status')
     AND ((OLD.status = 'pending' AND NEW.status <> 'pending')
       OR (OLD.status = 'applying' AND NEW.status IN ('applied', 'failed', 'unknown'))) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'flaggate.change_requests: % of % refused (only pending -> settled, applying -> applied, failed or unknown)', TG_OP, OLD.id
    USING ERRCODE = '${changeTableErrorCodes.finalStatus}';
END $$;

CREATE OR REPLACE FUNCTION flaggate.refuse_review_edit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flaggate.% is insert-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '${changeTableErrorCodes.appendOnly}';
END $$;

DROP TRIGGER IF EXISTS change_requests_settle_once ON flaggate.change_requests;
CREATE TRIGGER change_requests_settle_once BEFORE UPDATE OR DELETE ON flaggate.change_requests
  FOR EACH ROW EXECUTE FUNCTION flaggate.settle_once();
DROP TRIGGER IF EXISTS change_requests_no_truncate ON flaggate.change_requests;
CREATE TRIGGER change_requests_no_truncate BEFORE TRUNCATE ON flaggate.change_requests
  FOR EACH STATEMENT EXECUTE FUNCTION flaggate.refuse_review_edit();
${refuseEditsSql('flaggate.change_approvals', 'flaggate.refuse_review_edit')}
${refuseEditsSql('flaggate.approval_token_jtis', 'flaggate.refuse_review_edit')}
-- the triggers of earlier versions, under their old names
DROP TRIGGER IF EXISTS change_approvals_insert_only ON flaggate.change_approvals;
DROP TRIGGER IF EXISTS approval_token_jtis_insert_only ON flaggate.approval_token_jtis;

-- The chain of the sidecar that wrote the row (null in rows of earlier versions).
ALTER TABLE flaggate.change_requests ADD COLUMN IF NOT EXISTS chain_id text;
ALTER TABLE flaggate.change_approvals ADD COLUMN IF NOT EXISTS chain_id text;
${rowPolicySql('flaggate.change_requests', 'flaggate.writes_chain(chain_id)', { using: 'flaggate.writes_some_chain()', check: 'flaggate.writes_some_chain()' })}
${rowPolicySql('flaggate.change_approvals', 'flaggate.writes_chain(chain_id)')}
${rowPolicySql('flaggate.approval_token_jtis', 'flaggate.writes_some_chain()')}

${writerRoleSql([
  'GRANT SELECT, INSERT ON flaggate.change_requests, flaggate.change_approvals, flaggate.approval_token_jtis TO flaggate_writer',
  'GRANT UPDATE (status) ON flaggate.change_requests TO flaggate_writer',
  'GRANT SELECT ON flaggate.chain_writers TO flaggate_writer',
])}
`;

/** Creates or updates the change tables; idempotent and safe to run from several processes at once. */
export function migrateChangeTables(client: pg.ClientBase): Promise<void> {
  return runMigration(client, migration);
}
