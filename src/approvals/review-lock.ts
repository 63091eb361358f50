import pg from 'pg';
import { FlaggateError } from '../errors.js';

/**
 * The advisory lock class of change reviews (PostgreSQL's two-key form: this class, then a hash of
 * the change request id), apart from the one every flaggate migration takes.
 */
const REVIEW_LOCK_CLASS = 0x66677276;
/** How long a review waits for another review of the same change, on any sidecar, before it gives up. */
export const REVIEW_LOCK_WAIT_MS = 20_000;
/** PostgreSQL's lock_not_available: lock_timeout ran out. */
const LOCK_NOT_AVAILABLE = '55P03';

export interface ReviewLock {
  /** Runs `work` holding the lock of change `id`, which every sidecar sharing the database takes for it. */
  holding<T>(id: string, work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/**
 * One review of a change at a time across the sidecars of a fleet. A session-level advisory lock on
 * a connection of its own for the review's length: the review's statements run on the store's pool
 * meanwhile, and a sidecar that dies mid-review ends its session, which releases the lock.
 */
export function createReviewLock(options: { url: string; connectTimeoutMs?: number; waitMs?: number }): ReviewLock {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 8,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    lock_timeout: options.waitMs ?? REVIEW_LOCK_WAIT_MS,
    idleTimeoutMillis: 30_000,
  });
  pool.on('error', () => undefined);
  return {
    async holding(id, work) {
      const client = await connect(pool, id);
      try {
        await client.query('SELECT pg_advisory_lock($1, hashtext($2))', [REVIEW_LOCK_CLASS, id]);
      } catch (err) {
        // Whatever the wait did, ending the session leaves no lock behind.
        client.release(true);
        if ((err as { code?: string }).code === LOCK_NOT_AVAILABLE) {
          throw new FlaggateError('CONTROL_BUSY', `another review of change request ${id} is still running on a sidecar of the fleet; try again`, { cause: err });
        }
        throw new FlaggateError('AUDIT_WRITE_FAILED', `could not take the review lock of change request ${id}`, { cause: err });
      }
      try {
        return await work();
      } finally {
        await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [REVIEW_LOCK_CLASS, id]).then(
          () => client.release(),
          () => client.release(true),
        );
      }
    },
    close: () => pool.end(),
  };
}

async function connect(pool: pg.Pool, id: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    throw new FlaggateError('AUDIT_WRITE_FAILED', `could not take the review lock of change request ${id}`, { cause: err });
  }
}
