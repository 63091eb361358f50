import pg from 'pg';
import { FlaggateError } from '../../errors.js';

/** What a sidecar's PostgreSQL login may do, as the database tells it. */
export interface WriterLogin {
  role: string;
  /**
   * Why this login is not bound by row-level security or could lift it: `superuser`, `bypassrls`,
   * `createrole` (may grant itself the owner's role), `owner` (is or may become the owner of the
   * flaggate schema or one of its tables). Empty for a proper writer login.
   */
  privileged: string[];
  /** The chains registered to this role in `flaggate.chain_writers`. */
  chains: string[];
  /** Whether `flaggate db migrate` has created the schema. */
  migrated: boolean;
}

/** Asks the database what the connected login is: its attributes, what it owns, its chains. */
export async function inspectWriterLogin(db: pg.ClientBase | pg.Pool): Promise<WriterLogin> {
  const login = await inspectRole(db);
  if (!login) throw new TypeError('current_user has no pg_roles row');
  return login;
}

/** The same for a named role (the connected login when none is named); undefined when it does not exist. */
export async function inspectRole(db: pg.ClientBase | pg.Pool, role?: string): Promise<WriterLogin | undefined> {
  const { rows } = await db.query<{ role: string; rolsuper: boolean; rolbypassrls: boolean; rolcreaterole: boolean; owns: boolean; migrated: boolean }>(
    `SELECT r.rolname::text AS role, r.rolsuper, r.rolbypassrls, r.rolcreaterole,
       EXISTS (
         SELECT 1 FROM pg_namespace n WHERE n.nspname = 'flaggate' AND pg_has_role(r.oid, n.nspowner, 'MEMBER')
         UNION ALL
         SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'flaggate' AND pg_has_role(r.oid, c.relowner, 'MEMBER')
       ) AS owns,
       to_regclass('flaggate.chain_writers') IS NOT NULL AS migrated
     FROM pg_roles r WHERE r.rolname = coalesce($1::text, current_user::text)`,
    [role ?? null],
  );
  const r = rows[0];
  if (!r) return undefined;
  const privileged = [
    ...(r.rolsuper ? ['superuser'] : []),
    ...(r.rolbypassrls ? ['bypassrls'] : []),
    ...(r.rolcreaterole ? ['createrole'] : []),
    ...(r.owns ? ['owner'] : []),
  ];
  const chains = r.migrated
    ? (await db.query<{ chain_id: string }>('SELECT chain_id FROM flaggate.chain_writers WHERE role_name = $1 ORDER BY chain_id', [r.role])).rows.map((c) => c.chain_id)
    : [];
  return { role: r.role, privileged, chains, migrated: r.migrated };
}

/**
 * Holds a sidecar's login to the one-writer-per-chain rule. Refused: a schema nobody migrated, a
 * privileged login in production mode (it could write any chain, or lift the append-only
 * triggers), and an unprivileged login not registered for this chain (every write would fail).
 * A privileged login passes in development mode only; the caller says so in its log.
 */
export function assertWriterLogin(login: WriterLogin, chainId: string, production: boolean): WriterLogin {
  if (!login.migrated) {
    throw new FlaggateError('REPLICATE_ROLE_UNREGISTERED', 'the PostgreSQL ledger has no flaggate schema: run `flaggate db migrate` as its owner', {
      details: { role: login.role, chainId },
    });
  }
  if (login.privileged.length > 0) {
    if (!production) return login;
    throw new FlaggateError(
      'REPLICATE_ROLE_PRIVILEGED',
      `PostgreSQL login "${login.role}" is ${login.privileged.join(', ')}: a sidecar must log in as its own writer role, never one that can bypass row-level security or owns the schema`,
      { details: { role: login.role, privileged: login.privileged, chainId } },
    );
  }
  if (!login.chains.includes(chainId)) {
    throw new FlaggateError(
      'REPLICATE_ROLE_UNREGISTERED',
      `PostgreSQL login "${login.role}" is not the registered writer of chain "${chainId}": run \`flaggate db grant --chain ${chainId} --role ${login.role}\` as the owner`,
      { details: { role: login.role, chainId, registered: login.chains } },
    );
  }
  return login;
}

/** Connects once with `url` and checks the login for `chainId`; connection failures are thrown as they are. */
export async function checkWriterLogin(url: string, chainId: string, production: boolean, connectTimeoutMs = 5_000): Promise<WriterLogin> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs, query_timeout: 15_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return assertWriterLogin(await inspectWriterLogin(client), chainId, production);
  } finally {
    await client.end().catch(() => undefined);
  }
}
