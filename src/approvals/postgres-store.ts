import pg from 'pg';
import { rowToEntry } from '../audit/index.js';
import type { StoredRow } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import { migrateOnce } from '../postgres-migrate-once.js';
import { changeRequestIdSql, flushEveryCommit } from '../replicate/index.js';
import { migrateChangeTables } from './postgres-schema.js';
import { createReviewLock } from './review-lock.js';
import { changeColumns, toApproval, toRequest, toRow, type ApprovalRow, type ChangeRow } from './rows.js';
import type { Approval, ChangeStore } from './store.js';

export interface PostgresChangeStoreOptions {
  url: string;
  /** This sidecar's chain: the rows it writes carry it, and row-level security holds it to it. */
  chainId: string;
  /**
   * The chains whose ledger entries and approval rows count as evidence of a held change, beside
   * this one (`approvals.peerChains`): any other chain's writer could otherwise record an approval
   * that no approver gave, or a second request that denies a change it does not hold.
   */
  peerChains?: readonly string[];
  /** Create or update the change tables on first use: development only, as the schema owner (else `flaggate db migrate`). */
  migrate?: boolean;
  connectTimeoutMs?: number;
  queryTimeoutMs?: number;
}

/** One approval, once per approver: a second from the same person inserts nothing. */
const ADD_APPROVAL_SQL = `INSERT INTO flaggate.change_approvals (change_request_id, approver_id, roles, auth_method, approved_at, reason, proof, chain_id)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (change_request_id, approver_id) DO NOTHING`;

function approvalParams(id: string, a: Approval, chainId: string): unknown[] {
  return [id, a.approverId, JSON.stringify(a.roles), a.authMethod, a.approvedAt, a.reason, a.proof, chainId];
}

/** A held change's entries in the chains given, by the ledger's index on `change_request_id` (its expression, exactly). */
export const EVIDENCE_SQL = `SELECT seq::int AS seq, chain_id, prev_hash, hash, body FROM flaggate.audit_entries WHERE ${changeRequestIdSql} = $1 AND chain_id = ANY($2::text[]) ORDER BY chain_id, seq`;

function openPool(options: PostgresChangeStoreOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: 4,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
    query_timeout: options.queryTimeoutMs ?? 15_000,
    idleTimeoutMillis: 30_000,
  });
  // A connection dropped while idle (restart, failover) must not crash the process.
  pool.on('error', () => undefined);
  // A spent jti, a settled status and an approval row are durable when the call returns.
  flushEveryCommit(pool);
  return pool;
}

interface Statements {
  query<R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>>;
  /** Runs a write and returns the rows it touched; a failure is AUDIT_WRITE_FAILED naming `what`. */
  write(what: string, sql: string, params: unknown[]): Promise<number>;
}

function createStatements(pool: pg.Pool, ready: () => Promise<void>): Statements {
  const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[]): Promise<pg.QueryResult<R>> => {
    await ready();
    return pool.query<R>(sql, params);
  };
  const write = async (what: string, sql: string, params: unknown[]): Promise<number> => {
    try {
      return (await query(sql, params)).rowCount ?? 0;
    } catch (err) {
      throw new FlaggateError('AUDIT_WRITE_FAILED', `could not store ${what}`, { cause: err });
    }
  };
  return { query, write };
}

/**
 * The change store every sidecar of a fleet shares, in the central PostgreSQL database. Every
 * conditional write is one statement the database decides (a conditional UPDATE, or an INSERT
 * against a primary key), so concurrent replicas agree without reading first: one `settle` per
 * request wins, an approver counts once, a jti is spent once. Each statement commits on its own.
 */
export function openPostgresChangeStore(options: PostgresChangeStoreOptions): ChangeStore {
  const trusted = [options.chainId, ...(options.peerChains ?? [])];
  const pool = openPool(options);
  const { query, write } = createStatements(pool, migrateOnce(pool, options.migrate ? migrateChangeTables : undefined));
  const reviewLock = createReviewLock(options);

  return {
    async insert(c) {
      const row = toRow(c);
      const columns = [...changeColumns, 'chain_id'];
      await write(
        `change request ${c.id}`,
        `INSERT INTO flaggate.change_requests (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        [...changeColumns.map((k) => row[k]), options.chainId],
      );
    },
    async get(id) {
      const { rows } = await query<ChangeRow>('SELECT * FROM flaggate.change_requests WHERE id = $1', [id]);
      return rows[0] ? toRequest(rows[0]) : undefined;
    },
    async list(status) {
      const { rows } = status
        ? await query<ChangeRow>('SELECT * FROM flaggate.change_requests WHERE status = $1 ORDER BY created_at, id', [status])
        : await query<ChangeRow>('SELECT * FROM flaggate.change_requests ORDER BY created_at, id', []);
      return rows.map(toRequest);
    },
    // Under READ COMMITTED a second UPDATE waits for the first to commit, then re-checks
    // `status = 'pending'` on the new row version and matches nothing.
    async settle(id, status) {
      return (await write(`status of ${id}`, "UPDATE flaggate.change_requests SET status = $1 WHERE id = $2 AND status = 'pending'", [status, id])) === 1;
    },
    async finish(id, status) {
      return (await write(`status of ${id}`, "UPDATE flaggate.change_requests SET status = $1 WHERE id = $2 AND status = 'applying'", [status, id])) === 1;
    },
    async addApproval(id, a) {
      return (await write(`approval of ${id}`, ADD_APPROVAL_SQL, approvalParams(id, a, options.chainId))) === 1;
    },
    async approvals(id) {
      // Rows written before approvals carried their chain have none; row-level security refuses a new one without it.
      const { rows } = await query<ApprovalRow>(
        'SELECT * FROM flaggate.change_approvals WHERE change_request_id = $1 AND (chain_id IS NULL OR chain_id = ANY($2::text[])) ORDER BY approved_at, approver_id',
        [id, trusted],
      );
      return rows.map(toApproval);
    },
    async spendJti(issuer, jti, changeKey, at) {
      const spent = await write(
        `approval token ${jti}`,
        'INSERT INTO flaggate.approval_token_jtis (issuer, jti, change_key, used_at) VALUES ($1, $2, $3, $4) ON CONFLICT (issuer, jti) DO NOTHING',
        [issuer, jti, changeKey, at],
      );
      return spent === 1;
    },
    async evidence(id) {
      // Entries of this chain and its peers: a change held by one replica may be approved through another.
      const { rows } = await query<StoredRow>(EVIDENCE_SQL, [id, trusted]);
      return rows.map(rowToEntry);
    },
    // The row goes in on the lock's own session: a lock lost stores nothing.
    reviewing: (id, work) =>
      reviewLock.holding(id, (held) => work({ confirmHeld: held.confirmHeld, addApproval: async (a) => (await held.write(ADD_APPROVAL_SQL, approvalParams(id, a, options.chainId))) === 1 })),
    close: async () => {
      await Promise.all([pool.end(), reviewLock.close()]);
    },
  };
}
