import Database from 'better-sqlite3';
import { FlaggateError } from '../errors.js';
import type { StoredRow } from './entry.js';

/** Filters for reading the log a page at a time; every one is optional and they all must hold. */
export interface EntrySearch {
  flag?: string;
  environment?: string;
  actor?: string;
  action?: string;
  /** An outcome status (`applied`, `failed`, ...) or `denied` for a decision the policy refused. */
  outcome?: string;
  /** `timestamp_utc` in [from, to): ISO 8601 UTC strings. */
  from?: string;
  to?: string;
}

/** A page: entries with seq below `before` (newest first), or above `after` (oldest first, for "newer"). */
export interface EntryPage {
  before?: number;
  after?: number;
  limit: number;
}

/** The rows of a page, newest first, and whether more lie beyond each end. */
export interface FoundRows {
  rows: StoredRow[];
  olderExist: boolean;
  newerExist: boolean;
}

export const OUTCOME_FILTERS = ['applied', 'failed', 'not_forwarded', 'not_applied', 'unknown', 'denied'] as const;

// A body that is not JSON (tampering) matches no filter instead of failing the query; verification
// reports it. Bodies are canonical JSON, so timestamps compare as the strings they are.
const matching = `
  WITH e AS (SELECT seq, chain_id, prev_hash, hash, body, CASE WHEN json_valid(body) THEN body END AS j FROM audit_entries)
  SELECT seq, chain_id, prev_hash, hash, body FROM e
  WHERE (@flag IS NULL OR json_extract(j, '$.flag_key') = @flag)
    AND (@environment IS NULL OR json_extract(j, '$.environment') = @environment)
    AND (@actor IS NULL OR json_extract(j, '$.actor.id') = @actor)
    AND (@action IS NULL OR json_extract(j, '$.action') = @action)
    AND (@outcome IS NULL OR (@outcome = 'denied' AND json_extract(j, '$.entry_type') = 'change.decision' AND json_extract(j, '$.decision.allow') = 0)
         OR json_extract(j, '$.outcome.status') = @outcome)
    AND (@from IS NULL OR json_extract(j, '$.timestamp_utc') >= @from)
    AND (@to IS NULL OR json_extract(j, '$.timestamp_utc') < @to)`;

/**
 * Reads the log for people: a page of entries that match the filters, through a read-only
 * connection of its own (the ledger is in WAL mode, so the writer is never held up), opened and
 * closed per call so that nothing outlives the request. Filtering runs in SQLite; a page stops at
 * `limit` matches, so the common case (recent entries) reads little.
 */
export function searchLedgerFile(path: string, filters: EntrySearch, page: EntryPage): FoundRows {
  for (const n of [page.before, page.after, page.limit]) {
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) throw new FlaggateError('CONTROL_BAD_REQUEST', 'a page bound is a whole number');
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (cause) {
    throw new FlaggateError('AUDIT_CHAIN_BROKEN', `cannot open ledger ${path}`, { cause });
  }
  try {
    const params = {
      flag: filters.flag ?? null,
      environment: filters.environment ?? null,
      actor: filters.actor ?? null,
      action: filters.action ?? null,
      outcome: filters.outcome ?? null,
      from: filters.from ?? null,
      to: filters.to ?? null,
    };
    const limit = page.limit + 1; // one more tells whether another page exists
    const forward = page.after !== undefined;
    const bound = forward ? `seq > ${page.after!}` : page.before === undefined ? '1 = 1' : `seq < ${page.before}`;
    const sql = `SELECT * FROM (${matching}) WHERE ${bound} ORDER BY seq ${forward ? 'ASC' : 'DESC'} LIMIT ${limit}`;
    const found = db.prepare<[typeof params], StoredRow>(sql).all(params);
    const more = found.length > page.limit;
    const rows = found.slice(0, page.limit);
    if (forward) rows.reverse();
    const beyond = (where: string) => db.prepare<[typeof params], { n: number }>(`SELECT count(*) AS n FROM (SELECT seq FROM (${matching}) WHERE ${where} LIMIT 1)`).get(params)!.n > 0;
    const newest = rows[0]?.seq;
    const oldest = rows.at(-1)?.seq;
    return {
      rows,
      olderExist: forward ? (oldest === undefined ? false : beyond(`seq < ${oldest}`)) : more,
      newerExist: forward ? more : newest === undefined ? page.before !== undefined && beyond(`seq >= ${page.before}`) : beyond(`seq > ${newest}`),
    };
  } finally {
    db.close();
  }
}
