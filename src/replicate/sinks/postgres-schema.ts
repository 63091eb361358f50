import type pg from 'pg';

/** SQLSTATEs the schema raises, so a refusal is told apart from an outage. */
export const pgErrorCodes = {
  appendOnly: 'FGA01',
  fork: 'FGF01',
  gap: 'FGG01',
  /** A row-level security policy refused the row: the login is not the chain's registered writer. */
  notChainWriter: '42501',
} as const;

/** Serializes concurrent migrations (several sidecars starting at once) within one database. */
const migrationLock = 0x666c6167; // 'flag'

/**
 * Triggers that make a table refuse UPDATE and DELETE (each row) and TRUNCATE, raising through
 * `fn`; dropped first so the migration can run again.
 */
export function refuseEditsSql(table: string, fn: string, rowEvents = 'UPDATE OR DELETE'): string {
  const name = table.split('.').pop()!;
  return `
DROP TRIGGER IF EXISTS ${name}_append_only ON ${table};
CREATE TRIGGER ${name}_append_only BEFORE ${rowEvents} ON ${table}
  FOR EACH ROW EXECUTE FUNCTION ${fn}();
DROP TRIGGER IF EXISTS ${name}_no_truncate ON ${table};
CREATE TRIGGER ${name}_no_truncate BEFORE TRUNCATE ON ${table}
  FOR EACH STATEMENT EXECUTE FUNCTION ${fn}();`;
}

/**
 * Creates the `flaggate_writer` role when it is missing and the migrating role may (CREATEROLE), and
 * grants it `grants` (besides USAGE on the schema); without CREATEROLE the role is left to the operator.
 */
export function writerRoleSql(grants: string[]): string {
  return `
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flaggate_writer') THEN
    BEGIN
      CREATE ROLE flaggate_writer NOLOGIN;
    EXCEPTION
      WHEN duplicate_object OR unique_violation THEN NULL;
      WHEN insufficient_privilege THEN RAISE NOTICE 'flaggate_writer not created: no CREATEROLE';
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'flaggate_writer') THEN
    GRANT USAGE ON SCHEMA flaggate TO flaggate_writer;
${grants.map((g) => `    ${g};`).join('\n')}
  END IF;
END $$;`;
}

/**
 * One writer per chain: `chain_writers` maps each chain id to the one login role that may write it
 * (kept by the schema owner with `flaggate db grant`), and `writes_chain(id)` asks whether the
 * current role is that writer. Row-level security policies call it, so a sidecar's login can
 * insert rows of its own chain only, whatever it computes. Plain SQL, run as the caller: the
 * writer reads the mapping (SELECT) and cannot change it. Part of every migration that adds a
 * policy, since the change tables may be migrated first.
 */
export const chainWritersSql = `
CREATE SCHEMA IF NOT EXISTS flaggate;
CREATE TABLE IF NOT EXISTS flaggate.chain_writers (
  chain_id   text        PRIMARY KEY CHECK (chain_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  role_name  text        NOT NULL,
  granted_at timestamptz NOT NULL DEFAULT now()
);
CREATE OR REPLACE FUNCTION flaggate.writes_chain(c text) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM flaggate.chain_writers w WHERE w.chain_id = c AND w.role_name = current_user)
$$;
CREATE OR REPLACE FUNCTION flaggate.writes_some_chain() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM flaggate.chain_writers w WHERE w.role_name = current_user)
$$;`;

/**
 * Turns row-level security on for `table`: everyone with SELECT reads every row; a row is inserted
 * (and, given `update`, updated) only when `check` holds for it. The table's owner and roles with
 * BYPASSRLS are not bound, which is why sidecars must never log in as either.
 */
export function rowPolicySql(table: string, check: string, update?: { using: string; check: string }): string {
  const name = table.split('.').pop()!;
  return `
ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS ${name}_read ON ${table};
CREATE POLICY ${name}_read ON ${table} FOR SELECT USING (true);
DROP POLICY IF EXISTS ${name}_insert ON ${table};
CREATE POLICY ${name}_insert ON ${table} FOR INSERT WITH CHECK (${check});
DROP POLICY IF EXISTS ${name}_update ON ${table};
${update ? `CREATE POLICY ${name}_update ON ${table} FOR UPDATE USING (${update.using}) WITH CHECK (${update.check});` : ''}`;
}

/**
 * The central ledger's schema. Append-only by trigger (UPDATE, DELETE and TRUNCATE raise for every
 * role but one that disables the triggers: the owner, who is the administrator and never a
 * sidecar); an insert must link to the stored previous entry of its chain, or be seq 1 on the
 * genesis hash, and must belong to a chain the inserting role is registered for (row-level
 * security). Each row records the role that wrote it. `flaggate_writer` gets INSERT and SELECT
 * only; run by the owner (`flaggate db migrate`), never by a sidecar.
 */
/**
 * An entry's `change_request_id`, read from its body as stored; the expression the shared approvals
 * store queries by and the ledger indexes, character for character. `\\u0000` (the JSON escape of
 * U+0000, which jsonb refuses) is read as `\\u0001` first: a client's NUL in a reason or a flag
 * definition must not make its entry unstorable, nor every read of its chain fail.
 */
export const changeRequestIdSql = "(replace(body, '\\u0000', '\\u0001')::jsonb ->> 'change_request_id')";

const migration = `
${chainWritersSql}

CREATE TABLE IF NOT EXISTS flaggate.audit_entries (
  chain_id    text        NOT NULL CHECK (chain_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  seq         bigint      NOT NULL CHECK (seq >= 1),
  prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  body        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, seq)
);

-- The entries of one held change, which the shared approvals store reads at every review step:
-- without it, each read parsed every body of the chains it may trust (2.3 s for 100,000 entries).
-- Only entries naming a change request are indexed; a body that is not JSON is refused here too.
-- jsonb refuses the escape of U+0000, which JSON allows and a client can put in any recorded
-- field: it is read as U+0001 here, so such an entry is stored and found like any other.
CREATE INDEX IF NOT EXISTS audit_entries_change_request ON flaggate.audit_entries (${changeRequestIdSql})
  WHERE ${changeRequestIdSql} IS NOT NULL;

CREATE OR REPLACE FUNCTION flaggate.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flaggate.% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = '${pgErrorCodes.appendOnly}';
END $$;

-- Row inserts within one statement run in order, and each sees the rows inserted before it.
CREATE OR REPLACE FUNCTION flaggate.check_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  expected text;
BEGIN
  IF NEW.seq = 1 THEN
    expected := repeat('0', 64);
  ELSE
    SELECT hash INTO expected FROM flaggate.audit_entries WHERE chain_id = NEW.chain_id AND seq = NEW.seq - 1;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'chain %: seq % does not follow a stored entry', NEW.chain_id, NEW.seq USING ERRCODE = '${pgErrorCodes.gap}';
    END IF;
  END IF;
  IF NEW.prev_hash <> expected THEN
    RAISE EXCEPTION 'chain %: seq % forks the chain (prev_hash % <> stored %)', NEW.chain_id, NEW.seq, NEW.prev_hash, expected
      USING ERRCODE = '${pgErrorCodes.fork}';
  END IF;
  -- Who wrote the row, for the finding when a copy diverges; never taken from the client.
  NEW.written_by := current_user;
  RETURN NEW;
END $$;

ALTER TABLE flaggate.audit_entries ADD COLUMN IF NOT EXISTS written_by text;
${refuseEditsSql('flaggate.audit_entries', 'flaggate.refuse_change')}
DROP TRIGGER IF EXISTS audit_entries_link ON flaggate.audit_entries;
CREATE TRIGGER audit_entries_link BEFORE INSERT ON flaggate.audit_entries
  FOR EACH ROW EXECUTE FUNCTION flaggate.check_link();

-- Signed checkpoints of every chain: the heads that make truncation of a chain detectable.
CREATE TABLE IF NOT EXISTS flaggate.checkpoints (
  chain_id    text        NOT NULL CHECK (chain_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  seq         bigint      NOT NULL CHECK (seq >= 1),
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  time        text        NOT NULL,
  kid         text        NOT NULL,
  jws         text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, seq)
);
ALTER TABLE flaggate.checkpoints ADD COLUMN IF NOT EXISTS written_by text NOT NULL DEFAULT current_user;
${refuseEditsSql('flaggate.checkpoints', 'flaggate.refuse_change')}
${rowPolicySql('flaggate.audit_entries', 'flaggate.writes_chain(chain_id)')}
${rowPolicySql('flaggate.checkpoints', 'flaggate.writes_chain(chain_id) AND written_by = current_user')}

-- Every policy bundle ever in force on a chain, by the SHA-256 of its bytes, so a replay finds the
-- exact bundle a decision names when the sidecar's data dir is lost. The digest is checked here, not
-- taken from the client; the first chain to store a bundle is named, and no row changes after.
CREATE TABLE IF NOT EXISTS flaggate.policy_bundles (
  sha256      text        PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  bytes       bytea       NOT NULL,
  chain_id    text        NOT NULL CHECK (chain_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  written_by  text        NOT NULL DEFAULT current_user,
  received_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT policy_bundles_digest CHECK (sha256 = encode(sha256(bytes), 'hex'))
);
${refuseEditsSql('flaggate.policy_bundles', 'flaggate.refuse_change')}
${rowPolicySql('flaggate.policy_bundles', 'flaggate.writes_chain(chain_id) AND written_by = current_user')}

${writerRoleSql([
  'GRANT SELECT, INSERT ON flaggate.policy_bundles TO flaggate_writer',
  'GRANT SELECT, INSERT ON flaggate.audit_entries, flaggate.checkpoints TO flaggate_writer',
  'GRANT SELECT ON flaggate.chain_writers TO flaggate_writer',
])}
`;

/** Creates or updates the schema; idempotent and safe to run from several processes at once. */
export function migratePostgres(client: pg.ClientBase): Promise<void> {
  return runMigration(client, migration);
}

/**
 * Runs a migration in one transaction under the advisory lock every flaggate migration shares
 * (they all create the `flaggate` schema), so sidecars starting together do not collide.
 */
export async function runMigration(client: pg.ClientBase, sql: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [migrationLock]);
    await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
