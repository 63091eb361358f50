import pg from 'pg';
import { migrateChangeTables } from './approvals/index.js';
import { FlaggateError } from './errors.js';
import { inspectRole } from './replicate/index.js';
import { migratePostgres } from './replicate/index.js';

/**
 * The administrator's side of the central PostgreSQL ledger, run as the schema owner and never by
 * a sidecar: creating the schema (`flaggate db migrate`) and registering which login role writes
 * which chain (`flaggate db grant`).
 */
async function withClient<T>(url: string, run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/** Creates or updates the ledger and change tables, their triggers, policies and the writer role. */
export function migrateDatabase(url: string): Promise<void> {
  return withClient(url, async (client) => {
    await migratePostgres(client);
    await migrateChangeTables(client);
  });
}

export interface ChainGrant {
  chainId: string;
  role: string;
  /** The role that wrote the chain before, when it was reassigned. */
  previous: string | null;
}

/**
 * Registers `role` as the one writer of `chainId` and makes it a member of `flaggate_writer`. The
 * role must exist and must not be able to bypass row-level security (then the policy would bind
 * nothing). A chain already written by another role moves only with `reassign`: two sidecars
 * writing one chain is what this table is there to prevent.
 */
export function grantChainWriter(url: string, input: { chainId: string; role: string; reassign?: boolean }): Promise<ChainGrant> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(input.chainId)) throw new FlaggateError('CONFIG_INVALID', `not a chain id: "${input.chainId}"`);
  return withClient(url, async (client) => {
    const role = await inspectRole(client, input.role);
    if (!role) throw new FlaggateError('CONFIG_INVALID', `role "${input.role}" does not exist: create the sidecar's login role first`);
    if (!role.migrated) throw new FlaggateError('REPLICATE_ROLE_UNREGISTERED', 'no flaggate schema here: run `flaggate db migrate` first');
    if (role.privileged.length > 0) {
      throw new FlaggateError('REPLICATE_ROLE_PRIVILEGED', `role "${role.role}" is ${role.privileged.join(', ')}: row-level security would not bind it; give the sidecar a plain login role`, {
        details: { role: role.role, privileged: role.privileged },
      });
    }
    await client.query('BEGIN');
    try {
      const { rows } = await client.query<{ role_name: string }>('SELECT role_name FROM flaggate.chain_writers WHERE chain_id = $1 FOR UPDATE', [input.chainId]);
      const previous = rows[0]?.role_name ?? null;
      if (previous !== null && previous !== role.role && !input.reassign) {
        throw new FlaggateError('CONFIG_INVALID', `chain "${input.chainId}" is written by role "${previous}"; pass --reassign to move it to "${role.role}"`, {
          details: { chainId: input.chainId, role: previous },
        });
      }
      await client.query(
        `INSERT INTO flaggate.chain_writers (chain_id, role_name) VALUES ($1, $2)
         ON CONFLICT (chain_id) DO UPDATE SET role_name = EXCLUDED.role_name, granted_at = now()`,
        [input.chainId, role.role],
      );
      await client.query(`GRANT flaggate_writer TO ${client.escapeIdentifier(role.role)}`);
      await client.query('COMMIT');
      return { chainId: input.chainId, role: role.role, previous: previous === role.role ? null : previous };
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  });
}
