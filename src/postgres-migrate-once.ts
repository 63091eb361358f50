import type pg from 'pg';

/**
 * Lazy migration for a PostgreSQL store: run once, before the first statement that needs it, so a
 * sidecar starts while PostgreSQL is down and migrates on first use; a failed run is tried again
 * by the next caller. Without `migrate` (production: `flaggate db migrate` by the owner) it is a no-op.
 */
export function migrateOnce(pool: pg.Pool, migrate: ((client: pg.PoolClient) => Promise<void>) | undefined): () => Promise<void> {
  let migrated: Promise<void> | undefined;
  return () => {
    if (!migrate) return Promise.resolve();
    migrated ??= (async () => {
      const client = await pool.connect();
      try {
        await migrate(client);
      } finally {
        client.release();
      }
    })().catch((err: unknown) => {
      migrated = undefined;
      throw err;
    });
    return migrated;
  };
}
