import pg from 'pg';
import { FlaggateError } from '../errors.js';

/**
 * The advisory lock class of change reviews (PostgreSQL's two-key form: this class, then a hash of
 * the change request id), apart from the one every flaggate migration takes.
 */
const REVIEW_LOCK_CLASS = 0x66677276;
/** How long a review waits for another review of the same change, on any sidecar, before it gives up. */
export const REVIEW_LOCK_WAIT_MS = 20_000;
/** Reviews of distinct changes this sidecar holds locks for at once; more wait for a connection. */
const HELD_AT_ONCE = 8;

/** What work under the lock may do: confirm it still holds it, and write on the session that holds it. */
export interface LockHeld {
  /** Throws AUDIT_WRITE_FAILED when the lock was lost (its session ended): the review must record nothing more. */
  confirmHeld(): Promise<void>;
  /** Runs a write on the lock's own session (a session lost writes nothing); the rows it touched. */
  write(sql: string, params: unknown[]): Promise<number>;
}

export interface ReviewLock {
  /** Runs `work` holding the lock of change `id`, which every sidecar sharing the database takes for it. */
  holding<T>(id: string, work: (held: LockHeld) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

interface Held {
  client: pg.PoolClient;
  /** Set by the session's error (a restart, a terminated backend, a reset): the lock went with it. */
  lost: { error?: unknown };
  onError: (err: unknown) => void;
}

/**
 * One review of a change at a time across the sidecars of a fleet: a session-level advisory lock on
 * a connection of its own for the review's length (the review's statements run on the store's pool
 * meanwhile). A review waiting for another polls with `pg_try_advisory_lock` rather than holding a
 * connection, so waiters never crowd out reviews of other changes. A sidecar that dies mid-review
 * ends its session, which releases the lock.
 */
export function createReviewLock(options: { url: string; connectTimeoutMs?: number; waitMs?: number }): ReviewLock {
  const pool = new pg.Pool({ connectionString: options.url, max: HELD_AT_ONCE, connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000, keepAlive: true, idleTimeoutMillis: 30_000 });
  pool.on('error', () => undefined);
  const waitMs = options.waitMs ?? REVIEW_LOCK_WAIT_MS;
  return {
    async holding(id, work) {
      const held = await take(pool, id, waitMs);
      // A session lock lasts as long as its session: one that still answers still holds it.
      const write = async (sql: string, params: unknown[]): Promise<number> => {
        if (held.lost.error === undefined) {
          try {
            return (await held.client.query(sql, params)).rowCount ?? 0;
          } catch (err) {
            // A statement the database refused (a constraint, a policy) leaves the session, and the lock,
            // as they were; a connection exception (08) or operator intervention (57) ends them.
            const code = (err as { code?: unknown }).code;
            if (typeof code === 'string' && !/^(08|57)/.test(code)) throw new FlaggateError('AUDIT_WRITE_FAILED', `could not write under the review lock of change request ${id}`, { cause: err });
            held.lost.error ??= err;
          }
        }
        throw new FlaggateError('AUDIT_WRITE_FAILED', `the review lock of change request ${id} was lost with its PostgreSQL session; try again`, { cause: held.lost.error });
      };
      try {
        return await work({ confirmHeld: async () => void (await write('SELECT 1', [])), write });
      } finally {
        await letGo(held, id);
      }
    },
    close: () => pool.end(),
  };
}

async function take(pool: pg.Pool, id: string, waitMs: number): Promise<Held> {
  const deadline = Date.now() + waitMs;
  for (let pause = 25; ; pause = Math.min(pause * 2, 500)) {
    const client = await connect(pool, id);
    const lost: Held['lost'] = {};
    // A checked-out client has no listener of the pool's: an error with none would end the process.
    const onError = (err: unknown) => void (lost.error ??= err);
    client.on('error', onError);
    let got: boolean;
    try {
      got = (await client.query<{ got: boolean }>('SELECT pg_try_advisory_lock($1, hashtext($2)) AS got', [REVIEW_LOCK_CLASS, id])).rows[0]!.got;
    } catch (err) {
      client.release(true); // its listener stays: a closed session may still report an error
      throw new FlaggateError('AUDIT_WRITE_FAILED', `could not take the review lock of change request ${id}`, { cause: err });
    }
    if (got) return { client, lost, onError };
    client.off('error', onError);
    client.release();
    if (Date.now() + pause > deadline) {
      throw new FlaggateError('CONTROL_BUSY', `another review of change request ${id} is still running on a sidecar of the fleet; try again`);
    }
    await new Promise((r) => setTimeout(r, pause));
  }
}

async function connect(pool: pg.Pool, id: string): Promise<pg.PoolClient> {
  try {
    return await pool.connect();
  } catch (err) {
    // Every connection is held by a review of another change: this one waited its turn long enough.
    if (pool.totalCount >= HELD_AT_ONCE) throw new FlaggateError('CONTROL_BUSY', `${HELD_AT_ONCE} reviews are running on this sidecar; try again`, { cause: err });
    throw new FlaggateError('AUDIT_WRITE_FAILED', `could not take the review lock of change request ${id}`, { cause: err });
  }
}

/** Unlocks and returns the connection; a session that failed is closed, which unlocks too. */
async function letGo({ client, lost, onError }: Held, id: string): Promise<void> {
  let healthy = lost.error === undefined;
  if (healthy) {
    await client.query('SELECT pg_advisory_unlock($1, hashtext($2))', [REVIEW_LOCK_CLASS, id]).catch(() => (healthy = false));
  }
  if (healthy && lost.error === undefined) {
    client.off('error', onError);
    client.release();
  } else client.release(true); // its listener stays: a closed session may still report an error
}
