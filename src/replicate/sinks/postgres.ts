import pg from 'pg';
import type { Checkpoint } from '../../audit/checkpoint.js';
import type { AuditEntry, StoredRow } from '../../audit/entry.js';
import { canonicalJson } from '../../audit/canonical.js';
import type { ReadRows, TrustedHead } from '../../audit/verify.js';
import { FlaggateError } from '../../errors.js';
import type { Sink } from '../sink.js';
import { migratePostgres, pgErrorCodes } from './postgres-schema.js';

export interface PostgresSinkOptions {
  name: string;
  url: string;
  required: boolean;
  /** Run the schema migration on first use (needs CREATE; turn off when the writer role has INSERT and SELECT only). */
  migrate?: boolean;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

/** The sink plus what the upstream copy holds, for the start-up and /v1/audit/verify comparison. */
export interface PostgresSink extends Sink {
  head(chainId: string): Promise<TrustedHead | null>;
  latestCheckpoint(chainId: string): Promise<Checkpoint | null>;
}

/**
 * The central ledger: many sidecars, one chain each, one table. Each batch is one INSERT statement
 * (one transaction) of the entries past the stored head; an entry already stored with the same hash
 * is a no-op, with another hash a fork (AUDIT_CHAIN_BROKEN). Returns the highest contiguous seq the
 * table holds for the chain, which may be below the batch when upstream lost entries: the follower
 * resends from there.
 */
export function createPostgresSink(options: PostgresSinkOptions): PostgresSink {
  const pool = newPool(options.url, options.connectTimeoutMs, options.queryTimeoutMs, 2);
  let migrated: Promise<void> | undefined;
  /** The last seq this sink stored per chain (a hint, never trusted for correctness). */
  const written = new Map<string, number>();

  const ready = (): Promise<void> => {
    if (options.migrate === false) return Promise.resolve();
    migrated ??= (async () => {
      const client = await pool.connect();
      try {
        await migratePostgres(client);
      } finally {
        client.release();
      }
    })().catch((err: unknown) => {
      migrated = undefined; // retried on the next delivery
      throw err;
    });
    return migrated;
  };

  const head = async (chainId: string): Promise<TrustedHead | null> => {
    await ready();
    const { rows } = await pool.query<{ seq: string; hash: string }>(
      'SELECT seq, hash FROM flaggate.audit_entries WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1',
      [chainId],
    );
    return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
  };

  const latestCheckpoint = async (chainId: string): Promise<Checkpoint | null> => {
    await ready();
    const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string; time: string; kid: string; jws: string }>(
      'SELECT chain_id, seq, hash, time, kid, jws FROM flaggate.checkpoints WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1',
      [chainId],
    );
    const r = rows[0];
    return r ? { chainId: r.chain_id, seq: Number(r.seq), hash: r.hash, time: r.time, kid: r.kid, jws: r.jws } : null;
  };

  return {
    name: options.name,
    required: options.required,
    head,
    latestCheckpoint,
    async deliver(entries) {
      if (entries.length === 0) throw new TypeError('deliver() needs at least one entry');
      const chainId = entries[0]!.chain_id;
      const first = entries[0]!.seq;
      const last = entries[entries.length - 1]!.seq;
      // Fast path, one round trip: the batch follows what this sink last stored. The link trigger
      // still checks it; on any refusal the slow path below finds out what upstream really holds.
      if (written.get(chainId) === first - 1) {
        try {
          await insertBatch(pool, chainId, entries);
          written.set(chainId, last);
          return last;
        } catch (err) {
          written.delete(chainId);
          if (!(err instanceof FlaggateError) && !isSqlState(err)) throw err;
        }
      }
      // The trigger allows no gaps, so the highest seq is the contiguous head.
      const stored = (await head(chainId))?.seq ?? 0;
      if (stored < first - 1) return stored;
      await checkOverlap(pool, chainId, entries.filter((e) => e.seq <= stored));
      const fresh = entries.filter((e) => e.seq > stored);
      if (fresh.length > 0) await insertBatch(pool, chainId, fresh);
      written.set(chainId, last);
      return last;
    },
    async deliverCheckpoints(checkpoints) {
      if (checkpoints.length === 0) return;
      await ready();
      await pool.query(
        `INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws)
         SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
         ON CONFLICT (chain_id, seq) DO NOTHING`,
        [checkpoints.map((c) => c.chainId), checkpoints.map((c) => c.seq), checkpoints.map((c) => c.hash), checkpoints.map((c) => c.time), checkpoints.map((c) => c.kid), checkpoints.map((c) => c.jws)],
      );
    },
    async close() {
      await pool.end();
    },
  };
}

/** An entry already upstream must be byte-identical by hash: anything else is a fork. */
async function checkOverlap(pool: pg.Pool, chainId: string, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  const { rows } = await pool.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM flaggate.audit_entries WHERE chain_id = $1 AND seq BETWEEN $2 AND $3',
    [chainId, entries[0]!.seq, entries[entries.length - 1]!.seq],
  );
  const storedHash = new Map(rows.map((r) => [Number(r.seq), r.hash]));
  for (const e of entries) {
    const hash = storedHash.get(e.seq);
    if (hash !== e.hash) throw forked(chainId, e.seq, e.hash, hash);
  }
}

async function insertBatch(pool: pg.Pool, chainId: string, entries: AuditEntry[]): Promise<void> {
  const bodies = entries.map(({ hash: _hash, ...body }) => canonicalJson(body));
  try {
    // Seq order matters: the link trigger checks each row against the one inserted before it.
    await pool.query(
      `INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body)
       SELECT $1, t.seq, t.prev_hash, t.hash, t.body
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS t(seq, prev_hash, hash, body)
       ORDER BY t.seq`,
      [chainId, entries.map((e) => e.seq), entries.map((e) => e.prev_hash), entries.map((e) => e.hash), bodies],
    );
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === pgErrorCodes.fork || code === '23505') {
      // 23505: another writer stored this seq first (two sidecars sharing one chain id).
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', `upstream refused chain "${chainId}" as a fork: ${(err as Error).message}`, {
        cause: err,
        details: { chainId, seq: entries[0]!.seq },
      });
    }
    throw err;
  }
}

/** A refusal by the server (constraint, trigger), as opposed to a connection failure. */
function isSqlState(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

function forked(chainId: string, seq: number, expected: string, actual: string | undefined): FlaggateError {
  return new FlaggateError('AUDIT_CHAIN_BROKEN', `chain "${chainId}" seq ${seq} upstream differs from the local entry`, {
    details: { chainId, seq, expected, actual: actual ?? null },
  });
}

/** A read-only view of the central ledger, for `flaggate verify --postgres`. */
export interface PostgresLedgerReader {
  /** Every chain held, with its head. */
  chains(): Promise<Array<{ chainId: string; head: TrustedHead }>>;
  /** The raw rows of one chain, for `verifyChain`. */
  reader(chainId: string): ReadRows;
  /** The signed checkpoints held for one chain, oldest first (none when the table does not exist yet). */
  checkpoints(chainId: string): Promise<Checkpoint[]>;
  close(): Promise<void>;
}

/** Opens the central ledger for reading; nothing is created or written. */
export function openPostgresReader(url: string): PostgresLedgerReader {
  const pool = newPool(url, 10_000, 60_000, 1);
  return {
    async chains() {
      const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string }>(
        `SELECT DISTINCT ON (chain_id) chain_id, seq, hash FROM flaggate.audit_entries ORDER BY chain_id, seq DESC`,
      );
      return rows.map((r) => ({ chainId: r.chain_id, head: { seq: Number(r.seq), hash: r.hash } }));
    },
    reader(chainId) {
      return async (afterSeq, limit) => {
        const { rows } = await pool.query<Omit<StoredRow, 'seq'> & { seq: string }>(
          'SELECT seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries WHERE chain_id = $1 AND seq > $2 ORDER BY seq LIMIT $3',
          [chainId, afterSeq, limit],
        );
        return rows.map((r) => ({ ...r, seq: Number(r.seq) }));
      };
    },
    async checkpoints(chainId) {
      const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string; time: string; kid: string; jws: string }>(
        `SELECT chain_id, seq, hash, time, kid, jws FROM flaggate.checkpoints WHERE chain_id = $1 ORDER BY seq`,
        [chainId],
      ).catch((err: { code?: string }) => {
        if (err.code === '42P01') return { rows: [] }; // undefined_table: written by an older version
        throw err;
      });
      return rows.map((r) => ({ chainId: r.chain_id, seq: Number(r.seq), hash: r.hash, time: r.time, kid: r.kid, jws: r.jws }));
    },
    close: () => pool.end(),
  };
}

function newPool(url: string, connectTimeoutMs = 5_000, queryTimeoutMs = 15_000, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeoutMs, query_timeout: queryTimeoutMs, idleTimeoutMillis: 30_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the process;
  // the next query reconnects or fails, and the follower retries.
  pool.on('error', () => undefined);
  return pool;
}
