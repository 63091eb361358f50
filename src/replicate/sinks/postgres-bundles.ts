import type pg from 'pg';

/** A policy bundle as the archive keeps it: its exact bytes and the SHA-256 of them. */
export interface ArchivedBundle {
  sha256: string;
  bytes: Buffer;
}

/**
 * Stores the bundles `flaggate.policy_bundles` does not hold yet, as `chainId`'s writer. Idempotent
 * on the digest: one already stored (by this chain or another) is left as it is, and the schema
 * checks each digest against the bytes, so a row can never name a bundle it does not hold.
 */
export async function insertBundles(pool: pg.Pool, chainId: string, bundles: readonly ArchivedBundle[]): Promise<void> {
  if (bundles.length === 0) return;
  const { rows } = await pool.query<{ sha256: string }>('SELECT sha256 FROM flaggate.policy_bundles WHERE sha256 = ANY($1::text[])', [bundles.map((b) => b.sha256)]);
  const held = new Set(rows.map((r) => r.sha256));
  // One row at a time: a bundle may be megabytes, and each insert stands on its own.
  for (const b of bundles.filter((x) => !held.has(x.sha256))) {
    await pool.query('INSERT INTO flaggate.policy_bundles (sha256, bytes, chain_id) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING', [b.sha256, b.bytes, chainId]);
  }
}

/** Every bundle the table holds (none when it does not exist yet: a database migrated by an older version). */
export async function selectBundles(pool: pg.Pool): Promise<ArchivedBundle[]> {
  const { rows } = await pool
    .query<{ sha256: string; bytes: Buffer }>('SELECT sha256, bytes FROM flaggate.policy_bundles ORDER BY received_at, sha256')
    .catch((err: { code?: string }) => {
      if (err.code === '42P01') return { rows: [] }; // undefined_table
      throw err;
    });
  return rows.map((r) => ({ sha256: r.sha256, bytes: r.bytes }));
}
