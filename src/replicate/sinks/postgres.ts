import pg from 'pg';
import type { Checkpoint } from '../../audit/index.js';
import type { AuditEntry, StoredRow } from '../../audit/index.js';
import { storedBody } from '../../audit/index.js';
import type { Census, ReadRows, TrustedHead } from '../../audit/index.js';
import { FlaggateError } from '../../errors.js';
import { migrateOnce } from '../../postgres-migrate-once.js';
import type { Sink, UpstreamWriter } from '../sink.js';
import { assertWriterLogin, inspectWriterLogin, type WriterLogin } from './postgres-login.js';
import { insertBundles, selectBundles, type ArchivedBundle } from './postgres-bundles.js';
import { migratePostgres, pgErrorCodes } from './postgres-schema.js';

export interface PostgresSinkOptions {
  name: string;
  url: string;
  required: boolean;
  /** Run the schema migration on first use: development only, as the owner (else `flaggate db migrate`). */
  migrate?: boolean;
  /** Production mode: a login that can bypass row-level security is refused before any write. */
  production?: boolean;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

/** The sink plus what the upstream copy holds, for the start-up and /v1/audit/verify comparison. */
export interface PostgresSink extends Sink {
  head(chainId: string): Promise<TrustedHead | null>;
  writerOf(chainId: string, seq: number): Promise<UpstreamWriter | null>;
  /** The login checked for writing `chainId` (throws REPLICATE_ROLE_*); done once before the first write. */
  checkLogin(chainId: string): Promise<WriterLogin>;
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
  /** The last seq this sink stored per chain (a hint, never trusted for correctness). */
  const written = new Map<string, number>();
  // Retried on the next delivery when it fails.
  const ready = migrateOnce(pool, options.migrate ? migratePostgres : undefined);
  const checkLogin = checkLoginOnce(pool, ready, options.production ?? false);
  const head = (chainId: string) => readHead(pool, ready, chainId);
  const statement = { named: true };

  return {
    name: options.name,
    required: options.required,
    // An idle pooled connection takes the INSERT at once; a new one is being opened meanwhile.
    sendsAtOnce: true,
    head,
    checkLogin,
    async writerOf(chainId, seq) {
      await ready();
      const { rows } = await pool.query<{ hash: string; body: string; written_by: string | null; chains: string[] | null }>(
        `SELECT e.hash, e.body, e.written_by,
           (SELECT array_agg(w.chain_id ORDER BY w.chain_id) FROM flaggate.chain_writers w WHERE w.role_name = e.written_by) AS chains
         FROM flaggate.audit_entries e WHERE e.chain_id = $1 AND e.seq = $2`,
        [chainId, seq],
      );
      const row = rows[0];
      if (!row) return null;
      return { hash: row.hash, role: row.written_by, chains: row.chains ?? [], claimedChain: claimedChain(row.body) };
    },
    latestCheckpoint: (chainId) => readLatestCheckpoint(pool, ready, chainId),
    async deliver(entries) {
      if (entries.length === 0) throw new TypeError('deliver() needs at least one entry');
      const chainId = entries[0]!.chain_id;
      await checkLogin(chainId);
      const first = entries[0]!.seq;
      const last = entries[entries.length - 1]!.seq;
      // Fast path, one round trip: the batch follows what this sink last stored. The link trigger
      // still checks it; on any refusal the slow path below finds out what upstream really holds.
      if (written.get(chainId) === first - 1) {
        try {
          await insertBatch(pool, statement, chainId, entries);
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
      if (fresh.length > 0) await insertBatch(pool, statement, chainId, fresh);
      written.set(chainId, last);
      return last;
    },
    async deliverCheckpoints(checkpoints) {
      if (checkpoints.length === 0) return;
      for (const chainId of new Set(checkpoints.map((c) => c.chainId))) await checkLogin(chainId);
      await insertCheckpoints(pool, checkpoints);
    },
    async deliverBundles(chainId, bundles) {
      await checkLogin(chainId);
      await insertBundles(pool, chainId, bundles).catch((err: unknown) => {
        throw refusedByPolicy(err, chainId) ?? err;
      });
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

/**
 * Stores signed checkpoints; one already stored under the same chain and seq must be this very
 * checkpoint. Another hash there is a fork, the same hash under another signature a second
 * signer: either means something else writes this chain, and is thrown, never skipped.
 */
async function insertCheckpoints(pool: pg.Pool, checkpoints: Checkpoint[]): Promise<void> {
  const column = <K extends keyof Checkpoint>(k: K) => checkpoints.map((c) => c[k]);
  let inserted: Set<string>;
  try {
    const { rows } = await pool.query<{ chain_id: string; seq: string }>(
      `INSERT INTO flaggate.checkpoints (chain_id, seq, hash, time, kid, jws)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
       ON CONFLICT (chain_id, seq) DO NOTHING
       RETURNING chain_id, seq`,
      [column('chainId'), column('seq'), column('hash'), column('time'), column('kid'), column('jws')],
    );
    inserted = new Set(rows.map((r) => `${r.chain_id}#${r.seq}`));
  } catch (err) {
    throw refusedByPolicy(err, checkpoints[0]!.chainId) ?? err;
  }
  const skipped = checkpoints.filter((c) => !inserted.has(`${c.chainId}#${c.seq}`));
  if (skipped.length === 0) return;
  const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string; kid: string; jws: string; written_by: string | null }>(
    `SELECT c.chain_id, c.seq, c.hash, c.kid, c.jws, c.written_by FROM flaggate.checkpoints c
     JOIN unnest($1::text[], $2::bigint[]) AS k(chain_id, seq) ON c.chain_id = k.chain_id AND c.seq = k.seq`,
    [skipped.map((c) => c.chainId), skipped.map((c) => c.seq)],
  );
  const stored = new Map(rows.map((r) => [`${r.chain_id}#${r.seq}`, r]));
  for (const c of skipped) {
    const row = stored.get(`${c.chainId}#${c.seq}`);
    if (row && row.hash === c.hash && row.jws === c.jws) continue;
    const kind = !row || row.hash !== c.hash ? 'forked' : 'resigned';
    throw new FlaggateError(
      'AUDIT_CHAIN_BROKEN',
      kind === 'forked'
        ? `chain "${c.chainId}" checkpoint at seq ${c.seq} upstream names another head: a fork${row?.written_by ? `, written by role "${row.written_by}"` : ''}`
        : `chain "${c.chainId}" checkpoint at seq ${c.seq} upstream is signed by another key (kid ${row!.kid})${row!.written_by ? `, written by role "${row!.written_by}"` : ''}`,
      { details: { chainId: c.chainId, seq: c.seq, kind, expected: c.hash, actual: row?.hash ?? null, kid: row?.kid ?? null, writtenBy: row?.written_by ?? null } },
    );
  }
}

/** A row-level security refusal (42501 on insert) as the error it means: not this chain's writer. */
function refusedByPolicy(err: unknown, chainId: string): FlaggateError | undefined {
  if ((err as { code?: string }).code !== pgErrorCodes.notChainWriter) return undefined;
  return new FlaggateError('REPLICATE_ROLE_UNREGISTERED', `upstream refused a write to chain "${chainId}": this login is not its registered writer (${(err as Error).message})`, {
    cause: err,
    details: { chainId },
  });
}

/** The chain an upstream row's body says it belongs to, when it parses. */
function claimedChain(body: string): string | null {
  try {
    const chain = (JSON.parse(body) as { chain_id?: unknown }).chain_id;
    return typeof chain === 'string' ? chain : null;
  } catch {
    return null;
  }
}

const INSERT_ENTRIES = `INSERT INTO flaggate.audit_entries (chain_id, seq, prev_hash, hash, body)
       SELECT $1, t.seq, t.prev_hash, t.hash, t.body
       FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS t(seq, prev_hash, hash, body)
       ORDER BY t.seq`;

/**
 * A prepared statement's name is taken (42P05) or unknown (26000): the session is not the one that
 * prepared it, as behind a pooler that hands server sessions from client to client (PgBouncer in
 * transaction mode). Nothing was executed.
 */
const STATEMENT_NOT_OURS = new Set(['42P05', '26000']);

/**
 * Inserts in seq order (the link trigger checks each row against the one inserted before it). A
 * named statement, so each connection parses and plans it once (0.08 ms of every delivery
 * otherwise), until a session shows it is not the one that prepared it: then, and from then on,
 * unnamed.
 */
async function insertBatch(pool: pg.Pool, statement: { named: boolean }, chainId: string, entries: AuditEntry[]): Promise<void> {
  const values = [chainId, entries.map((e) => e.seq), entries.map((e) => e.prev_hash), entries.map((e) => e.hash), entries.map(storedBody)];
  try {
    try {
      await pool.query(statement.named ? { name: 'flaggate_insert_entries', text: INSERT_ENTRIES, values } : { text: INSERT_ENTRIES, values });
    } catch (err) {
      if (!statement.named || !STATEMENT_NOT_OURS.has(String((err as { code?: unknown }).code))) throw err;
      statement.named = false;
      await pool.query({ text: INSERT_ENTRIES, values });
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    const refused = refusedByPolicy(err, chainId);
    if (refused) throw refused;
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
  /** The rows of one chain at or below a seq, whatever their seq, for `verifyChain`'s `census`. */
  census(chainId: string): Census;
  /** The seq and hash of each row of one chain after a seq, in order, without their bodies: to walk the copy for holes. */
  links(chainId: string): (afterSeq: number, limit: number) => Promise<Array<{ seq: number; hash: string }>>;
  /** The signed checkpoints held for one chain, oldest first (none when the table does not exist yet). */
  checkpoints(chainId: string): Promise<Checkpoint[]>;
  /** Every policy bundle the upstream archive holds, by digest (checked by the schema on insert; check again before use). */
  bundles(): Promise<ArchivedBundle[]>;
  close(): Promise<void>;
}

/**
 * True when `flaggate.audit_entries` is a plain table with no child tables and a valid unique index
 * on exactly (chain_id text, seq bigint), with the types' default btree operator classes, no
 * predicate and no expression, and `chain_id` compares by a deterministic collation: then no seq of
 * a chain can be held twice. A table read through its parent includes any table that inherits from
 * it, which the parent's index does not cover; under a nondeterministic collation (one ignoring
 * case) `chain_id = 'east'` also reads the rows of 'EAST', which a unique index over another
 * collation holds apart.
 */
const seqKeyHoldsSql = `(
  SELECT t.relkind = 'r'
    AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhparent = t.oid)
    AND EXISTS (
      SELECT 1 FROM pg_index i
      JOIN pg_attribute c ON c.attrelid = i.indrelid AND c.attname = 'chain_id' AND c.atttypid = 'text'::regtype
      JOIN pg_collation cc ON cc.oid = c.attcollation AND cc.collisdeterministic
      JOIN pg_attribute s ON s.attrelid = i.indrelid AND s.attname = 'seq' AND s.atttypid = 'int8'::regtype
      WHERE i.indrelid = t.oid AND i.indisunique AND i.indisvalid AND i.indisready AND i.indislive
        AND i.indpred IS NULL AND i.indexprs IS NULL AND i.indnkeyatts = 2
        AND i.indkey[0] = c.attnum AND i.indkey[1] = s.attnum
        AND i.indclass[0] = (SELECT o.oid FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod WHERE a.amname = 'btree' AND o.opcdefault AND o.opcintype = 'text'::regtype)
        AND i.indclass[1] = (SELECT o.oid FROM pg_opclass o JOIN pg_am a ON a.oid = o.opcmethod WHERE a.amname = 'btree' AND o.opcdefault AND o.opcintype = 'int8'::regtype)
    )
  FROM pg_class t WHERE t.oid = 'flaggate.audit_entries'::regclass
)`;

/** Opens the central ledger for reading; nothing is created or written. */
export function openPostgresReader(url: string): PostgresLedgerReader {
  const pool = newPool(url, 10_000, 60_000, 1);
  return {
    async chains() {
      // Each chain id, then its head, found by walking the (chain_id, seq) index: a DISTINCT ON
      // reads every row of the table (125 ms for 100,000 entries), this a few index pages per chain.
      const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string }>(
        `WITH RECURSIVE ids(chain_id) AS (
           (SELECT chain_id FROM flaggate.audit_entries ORDER BY chain_id LIMIT 1)
           UNION ALL
           SELECT (SELECT e.chain_id FROM flaggate.audit_entries e WHERE e.chain_id > ids.chain_id ORDER BY e.chain_id LIMIT 1)
           FROM ids WHERE ids.chain_id IS NOT NULL
         )
         SELECT ids.chain_id, h.seq, h.hash FROM ids
         CROSS JOIN LATERAL (SELECT seq, hash FROM flaggate.audit_entries e WHERE e.chain_id = ids.chain_id ORDER BY e.seq DESC LIMIT 1) h
         ORDER BY ids.chain_id`,
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
    links(chainId) {
      return async (afterSeq, limit) => {
        const { rows } = await pool.query<{ seq: string; hash: string }>('SELECT seq, hash FROM flaggate.audit_entries WHERE chain_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [chainId, afterSeq, limit]);
        return rows.map((r) => ({ seq: Number(r.seq), hash: r.hash }));
      };
    },
    census(chainId) {
      return async (through) => {
        // Under the table's key a seq is held at most once, and the walk read every seq from 1 to
        // `through`: only rows below seq 1 are left to count, a few index pages. Without the key
        // (dropped by whoever owns the table) every row is counted, a read of the whole chain.
        const below = await pool.query<{ key_holds: boolean; rows: string; lowest: string | null }>(
          `SELECT ${seqKeyHoldsSql} AS key_holds, count(*) AS rows, min(seq) AS lowest FROM flaggate.audit_entries WHERE chain_id = $1 AND seq < 1`,
          [chainId],
        );
        const { key_holds: keyHolds, rows: strays, lowest: lowestStray } = below.rows[0]!;
        if (keyHolds) return { rows: through + Number(strays), lowest: lowestStray === null ? (through >= 1 ? 1 : null) : Number(lowestStray) };
        const { rows } = await pool.query<{ rows: string; lowest: string | null }>(
          'SELECT count(*) AS rows, min(seq) AS lowest FROM flaggate.audit_entries WHERE chain_id = $1 AND seq <= $2',
          [chainId, through],
        );
        return { rows: Number(rows[0]!.rows), lowest: rows[0]!.lowest === null ? null : Number(rows[0]!.lowest) };
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
    bundles: () => selectBundles(pool),
    close: () => pool.end(),
  };
}

/** Checked once per chain before its first write; a failure (an outage included) is checked again next time. */
function checkLoginOnce(pool: pg.Pool, ready: () => Promise<void>, production: boolean): (chainId: string) => Promise<WriterLogin> {
  const logins = new Map<string, Promise<WriterLogin>>();
  return (chainId) => {
    let login = logins.get(chainId);
    if (!login) {
      login = ready()
        .then(() => inspectWriterLogin(pool))
        .then((l) => assertWriterLogin(l, chainId, production));
      logins.set(chainId, login);
      login.catch(() => logins.delete(chainId));
    }
    return login;
  };
}

async function readHead(pool: pg.Pool, ready: () => Promise<void>, chainId: string): Promise<TrustedHead | null> {
  await ready();
  const { rows } = await pool.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM flaggate.audit_entries WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1',
    [chainId],
  );
  return rows[0] ? { seq: Number(rows[0].seq), hash: rows[0].hash } : null;
}

async function readLatestCheckpoint(pool: pg.Pool, ready: () => Promise<void>, chainId: string): Promise<Checkpoint | null> {
  await ready();
  const { rows } = await pool.query<{ chain_id: string; seq: string; hash: string; time: string; kid: string; jws: string }>(
    'SELECT chain_id, seq, hash, time, kid, jws FROM flaggate.checkpoints WHERE chain_id = $1 ORDER BY seq DESC LIMIT 1',
    [chainId],
  );
  const r = rows[0];
  return r ? { chainId: r.chain_id, seq: Number(r.seq), hash: r.hash, time: r.time, kid: r.kid, jws: r.jws } : null;
}

function newPool(url: string, connectTimeoutMs = 5_000, queryTimeoutMs = 15_000, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: connectTimeoutMs, query_timeout: queryTimeoutMs, idleTimeoutMillis: 30_000 });
  // An idle connection dropped by the server (restart, failover) must not crash the process;
  // the next query reconnects or fails, and the follower retries.
  pool.on('error', () => undefined);
  // Every commit here is an acknowledgement.
  flushEveryCommit(pool);
  return pool;
}

/**
 * Makes every commit on the pool's sessions wait for its WAL flush, whatever the server, database or
 * role says (synchronous_commit=off answers before the flush: a crash of PostgreSQL then loses what
 * was answered). Queued ahead of each new session's first query; a session that cannot take it is closed.
 */
export function flushEveryCommit(pool: pg.Pool): void {
  pool.on('connect', (client) => {
    client.query('SET synchronous_commit TO on').catch(() => client.end().catch(() => undefined));
  });
}
