import type pg from 'pg';

/** SQLSTATEs the schema raises, so a refusal is told apart from an outage. */
export const pgErrorCodes = {
  appendOnly: 'FGA01',
  fork: 'FGF01',
  gap: 'FGG01',
} as const;

/** Serializes concurrent migrations (several sidecars starting at once) within one database. */
const migrationLock = 0x666c6167; // 'flag'

/**
 * The central ledger's schema. Append-only by trigger (UPDATE, DELETE and TRUNCATE raise even for a
 * superuser); an insert must link to the stored previous entry of its chain, or be seq 1 on the
 * genesis hash. The `flaggate_writer` role gets INSERT and SELECT only: grant it to the login role
 * sidecars use; the role running this migration needs CREATE on the database (and CREATEROLE for
 * the role to be created here; without it, the role is left to the operator).
 */
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

const migration = `
CREATE SCHEMA IF NOT EXISTS flaggate;

CREATE TABLE IF NOT EXISTS flaggate.audit_entries (
  chain_id    text        NOT NULL CHECK (chain_id ~ '^[A-Za-z0-9._-]{1,64}$'),
  seq         bigint      NOT NULL CHECK (seq >= 1),
  prev_hash   text        NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
  hash        text        NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$'),
  body        text        NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (chain_id, seq)
);

CREATE OR REPLACE FUNCTION flaggate.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'flaggate.audit_entries is append-only: % refused', TG_OP USING ERRCODE = '${pgErrorCodes.appendOnly}';
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
  RETURN NEW;
END $$;

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
${refuseEditsSql('flaggate.checkpoints', 'flaggate.refuse_change')}

${writerRoleSql(['GRANT SELECT, INSERT ON flaggate.audit_entries, flaggate.checkpoints TO flaggate_writer'])}
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
