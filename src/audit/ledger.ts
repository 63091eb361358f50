import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import type { Clock } from '../clock.js';
import { isoUtc } from '../clock.js';
import { delayed } from '../delayed.js';
import { FlaggateError } from '../errors.js';
import { canonicalJson, joinCanonical } from './canonical.js';
import { carriedMembers, rememberCopy, rememberMembers } from './entry-text.js';
import type { AuditEntry, NewEntry, StoredRow, Unrecorded } from './entry.js';
import { GENESIS_HASH } from './entry.js';
import type { Checkpoint } from './checkpoint.js';
import { chainHash } from './hash-entry.js';
import { defaultEntryLimits, prepareEntry, type EntryLimits } from './prepare-entry.js';
import { freezeForKeeping, keptEntry, type ChainFields } from './kept-entry.js';
import { standInEntry } from './stand-in.js';
import { rowToEntry } from './row-to-entry.js';
import { refuseEditsSqlite } from '../sqlite-append-only.js';
import { openDurableSqlite } from '../sqlite-durable.js';

const prepared: unique symbol = Symbol('prepared entry');

/**
 * An entry checked and made plain, canonicalizable JSON before it joins a commit: nothing about its
 * content can fail the transaction any more. `unrecorded` is set when it stands in for an entry
 * that could not be recorded as is.
 */
export interface PreparedEntry {
  /** The canonical JSON of each of the entry's members. */
  readonly members: Readonly<Record<string, string>>;
  readonly unrecorded: Unrecorded | null;
  /** The entry's own values, frozen, when the committed entry can be built from them (`keptEntry`); else its stored text is parsed. */
  readonly values?: NewEntry;
  readonly [prepared]: true;
}
import { ensurePrivateFile, tightenFiles } from '../private-path.js';

/** A timestamp token row, as the timestamp stage stores it. */
export interface SealToken {
  coversSeq: number;
  coversHash: string;
  genTime: string;
  tsa: string;
  token: Buffer;
}

// No UNIQUE on hash: two rows with one hash would need a SHA-256 collision (each body states its
// own seq, the primary key, and verify holds the two equal), nothing looks a row up by hash, and an
// index of random keys dirtied a page of its own per entry once past the page cache (a 24-entry
// commit on a 200,000-row ledger took 1.46 ms with it, 0.46 without). Files made before keep theirs.
const schema = `
CREATE TABLE IF NOT EXISTS audit_entries (
  seq       INTEGER PRIMARY KEY,
  chain_id  TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash      TEXT NOT NULL,
  body      TEXT NOT NULL
) STRICT;
${refuseEditsSqlite('audit_entries')}
CREATE TABLE IF NOT EXISTS checkpoints (
  seq      INTEGER PRIMARY KEY,
  chain_id TEXT NOT NULL,
  hash     TEXT NOT NULL,
  time     TEXT NOT NULL,
  kid      TEXT NOT NULL,
  jws      TEXT NOT NULL
) STRICT;
${refuseEditsSqlite('checkpoints')}
-- Held changes are checked against their entries; a body that is not JSON (tampering) must not
-- make the index fail, so the expression guards with json_valid (verify reports the tampering).
CREATE INDEX IF NOT EXISTS audit_entries_change_request
  ON audit_entries (json_extract(CASE WHEN json_valid(body) THEN body END, '$.change_request_id'));
CREATE TABLE IF NOT EXISTS ledger_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS sink_cursors (sink TEXT PRIMARY KEY, acked_seq INTEGER NOT NULL) STRICT;
`;

export interface Ledger {
  readonly chainId: string;
  readonly path: string;
  /**
   * Validates and canonicalizes an entry outside any transaction. An entry that cannot be recorded
   * as is comes back as its capped stand-in (`unrecorded` set); it never throws for its content.
   */
  prepare(entry: NewEntry): PreparedEntry;
  /**
   * Commits prepared entries, in order, in one transaction (synchronous=FULL: durable on return,
   * one fsync for all). Throws only for what fails every entry alike: AUDIT_DISK_FULL when the disk
   * is full, AUDIT_WRITE_FAILED otherwise; the ledger is then as it was.
   */
  commit(entries: readonly PreparedEntry[]): AuditEntry[];
  /**
   * A token over a commit's newest entry, stored in the same transaction (one fsync for entries and
   * token): `seal` sees the entries just committed and returns the token to store, or undefined.
   * A seal that fails is skipped, never failing the commit: coverage then follows the usual way.
   * The token table is the timestamp stage's; it exists by the time a seal is set.
   */
  sealWith(seal: ((committed: readonly AuditEntry[]) => SealToken | undefined) | undefined): void;
  /** `prepare` then `commit` of one entry. */
  append(entry: NewEntry): AuditEntry;
  /** `prepare` then `commit` of several entries in one transaction. */
  appendMany(entries: NewEntry[]): AuditEntry[];
  head(): { seq: number; hash: string };
  /** Raw rows with seq > afterSeq, oldest first. */
  rowsAfter(afterSeq: number, limit: number): StoredRow[];
  /** The rows at or below a seq, whatever their seq, for `verifyChain`'s `census`. */
  census(through: number): { rows: number; lowest: number | null };
  entriesAfter(afterSeq: number, limit: number): AuditEntry[];
  /** Stores a signed checkpoint (append-only; one per seq). */
  appendCheckpoint(cp: Checkpoint): void;
  /**
   * `appendCheckpoint` with the next commit (one fsync for both) or within `cursorFlushMs`: resolves
   * once it is on disk; rejects, and the checkpoint is dropped, when its write failed.
   */
  storeCheckpoint(cp: Checkpoint): Promise<void>;
  /** Checkpoints in seq order, optionally only those with seq in [fromSeq, toSeq]. */
  checkpoints(fromSeq?: number, toSeq?: number): Checkpoint[];
  /** Small durable bookkeeping beside the chain (not part of it): e.g. how far in-doubt checks reached. */
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  /** The last seq a sink acknowledged (0 when none). */
  sinkCursor(sink: string): number;
  /**
   * Moves a sink's cursor forward. It is written with the next commit (one fsync for both) or
   * within `cursorFlushMs`, whichever comes first: a cursor is only where replication resumes
   * after a restart, every sink is idempotent by seq, so one that lags by a crash costs a resend,
   * never a gap or a duplicate upstream.
   */
  setSinkCursor(sink: string, seq: number): void;
  close(): void;
}

/** Opens the file (0600, WAL, synchronous=FULL) and creates the tables and triggers it lacks. */
function openLedgerFile(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // The file holds held request bodies and headers: 0600 whatever the umask (SQLite gives the
  // -wal and -shm files the database file's mode; ones left by an older run are tightened).
  ensurePrivateFile(path);
  const db = openDurableSqlite(path);
  tightenFiles(`${path}-wal`, `${path}-shm`);
  db.exec(schema);
  return db;
}

/** Binds a new file to `chainId`; a file already bound to another chain is closed and refused. */
function bindChain(db: Database.Database, path: string, chainId: string): void {
  const boundChain = db.prepare<[], { value: string }>("SELECT value FROM ledger_meta WHERE key = 'chain_id'").get();
  if (!boundChain) db.prepare("INSERT INTO ledger_meta (key, value) VALUES ('chain_id', ?)").run(chainId);
  else if (boundChain.value !== chainId) {
    db.close();
    throw new FlaggateError('AUDIT_WRITE_FAILED', `ledger ${path} holds chain "${boundChain.value}", not "${chainId}"`);
  }
}

function prepareStatements(db: Database.Database) {
  return {
    lastRow: db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM audit_entries ORDER BY seq DESC LIMIT 1'),
    insert: db.prepare('INSERT INTO audit_entries (seq, chain_id, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)'),
    rowsAfter: db.prepare<[number, number], StoredRow>('SELECT seq, chain_id, prev_hash, hash, body FROM audit_entries WHERE seq > ? ORDER BY seq LIMIT ?'),
    census: db.prepare<[number], { rows: number; lowest: number | null }>('SELECT count(*) AS rows, min(seq) AS lowest FROM audit_entries WHERE seq <= ?'),
    insertCheckpoint: db.prepare('INSERT OR IGNORE INTO checkpoints (seq, chain_id, hash, time, kid, jws) VALUES (?, ?, ?, ?, ?, ?)'),
    selectCheckpoints: db.prepare<[number, number], { seq: number; chain_id: string; hash: string; time: string; kid: string; jws: string }>(
      'SELECT seq, chain_id, hash, time, kid, jws FROM checkpoints WHERE seq BETWEEN ? AND ? ORDER BY seq',
    ),
    selectMeta: db.prepare<[string], { value: string }>('SELECT value FROM ledger_meta WHERE key = ?'),
    upsertMeta: db.prepare('INSERT INTO ledger_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
    getCursor: db.prepare<[string], { acked_seq: number }>('SELECT acked_seq FROM sink_cursors WHERE sink = ?'),
    putCursor: db.prepare(
      'INSERT INTO sink_cursors (sink, acked_seq) VALUES (?, ?) ON CONFLICT(sink) DO UPDATE SET acked_seq = excluded.acked_seq WHERE excluded.acked_seq > sink_cursors.acked_seq',
    ),
  };
}

/** Checks an entry against the limits; one that cannot be recorded as is becomes its capped stand-in. */
function prepareChecked(given: NewEntry, limits: EntryLimits): PreparedEntry {
  // `unrecorded` is the ledger's to set: one carried over from a stored entry (an outcome built
  // from its decision) is not the writer's claim, so it is dropped rather than refused.
  const { unrecorded: _carried, ...entry } = given as NewEntry & { unrecorded?: unknown };
  const checked = prepareEntry(entry, limits, carriedMembers(given));
  if (checked.ok) return { members: checked.members, unrecorded: null, ...keepable(entry), [prepared]: true };
  const standIn = prepareEntry(standInEntry(entry, checked.unrecorded.message), limits);
  if (!standIn.ok) {
    // Unreachable by construction (the stand-in is built from checked, capped values); refuse this entry alone.
    throw new FlaggateError('AUDIT_ENTRY_UNRECORDABLE', `neither the entry nor its stand-in can be recorded: ${standIn.unrecorded.message}`);
  }
  return { members: standIn.members, unrecorded: checked.unrecorded, [prepared]: true };
}

const keepable = (entry: NewEntry): { values?: NewEntry } => (freezeForKeeping(entry) ? { values: entry } : {});

/**
 * Commits prepared entries in one transaction. IMMEDIATE takes the write lock before reading the
 * head, so two writers (even two processes on one file) can never both build on the same head: no
 * duplicate seq, no fork. Only chain fields join the prepared entry here, so nothing about an
 * entry's content can throw.
 */
function createCommit(
  db: Database.Database,
  st: ReturnType<typeof prepareStatements>,
  head: () => { seq: number; hash: string },
  options: { chainId: string; clock: Clock },
  cursors: PendingCursors,
  sealer: { seal?: (committed: readonly AuditEntry[]) => void },
  tail: RecentEntries,
): (entries: readonly PreparedEntry[]) => AuditEntry[] {
  // The head is read once per transaction (the write lock is held from its start), then advanced here.
  const appendOne = (p: PreparedEntry, prev: { seq: number; hash: string }): AuditEntry => {
    const seq = prev.seq + 1;
    // The entry's members were serialized when it was prepared; only the chain fields are new.
    const chain: ChainFields = { chain_id: options.chainId, seq, prev_hash: prev.hash, event_id: randomUUID(), timestamp_utc: isoUtc(options.clock.now()), unrecorded: p.unrecorded };
    const chainMembers = {
      chain_id: JSON.stringify(chain.chain_id),
      seq: JSON.stringify(seq),
      prev_hash: JSON.stringify(chain.prev_hash),
      event_id: JSON.stringify(chain.event_id),
      timestamp_utc: JSON.stringify(chain.timestamp_utc),
      unrecorded: canonicalJson(p.unrecorded),
    };
    const canonical = joinCanonical(p.members, chainMembers);
    const hash = chainHash(prev.hash, canonical);
    st.insert.run(seq, options.chainId, prev.hash, hash, canonical);
    // The stored entry as it reads back: built from the writer's frozen values in the stored
    // text's member order (no parse, no copies: 1.05x changes/s at 64 clients, paired), or, for one
    // whose values would read back otherwise, the text just written, parsed. `kept` is what
    // replication reads; the caller gets a copy, so a change it makes to a field never reaches
    // what goes upstream (and the objects under the fields are frozen).
    const kept = p.values ? keptEntry(p.values, chain, hash) : parsedEntry(canonical, hash);
    rememberMembers(kept, canonical, p.members, chainMembers);
    tail.remember(kept, canonical.length);
    const copy = { ...kept };
    rememberCopy(copy, kept);
    return copy;
  };
  const commitTx = db.transaction((entries: readonly PreparedEntry[]) => {
    let prev = head();
    const committed = entries.map((p) => {
      const entry = appendOne(p, prev);
      prev = entry;
      return entry;
    });
    sealer.seal?.(committed);
    cursors.writeIn();
    return committed;
  });
  return (entries) => {
    if (entries.some((e) => e[prepared] !== true)) throw new TypeError('commit takes entries from prepare()');
    try {
      const committed = commitTx.immediate(entries);
      cursors.written();
      tail.committed();
      return committed;
    } catch (cause) {
      tail.rolledBack();
      throw commitFailure(cause, entries.length);
    }
  };
}

function parsedEntry(canonical: string, hash: string): AuditEntry {
  const entry = JSON.parse(canonical) as AuditEntry;
  entry.hash = hash;
  return entry;
}

/** Runs `seal` inside the commit's transaction; its failure is its own (a savepoint), never the commit's. */
function sealInTransaction(db: Database.Database, seal: (committed: readonly AuditEntry[]) => SealToken | undefined) {
  const insert = db.prepare('INSERT INTO timestamp_tokens (covers_seq, covers_hash, gen_time, tsa, token) VALUES (?, ?, ?, ?, ?)');
  // Nested inside the commit's transaction, better-sqlite3 runs this as a savepoint: a failed
  // insert rolls back to it and the entries stay.
  const store = db.transaction((t: SealToken) => void insert.run(t.coversSeq, t.coversHash, t.genTime, t.tsa, t.token));
  return (committed: readonly AuditEntry[]): void => {
    try {
      const token = seal(committed);
      if (token) store(token);
    } catch {
      // the entries are committed all the same; `cover` stamps them the usual way
    }
  };
}

/**
 * The newest committed entries, kept so replication reads what was just written without reading it
 * back from SQLite and parsing it again. Entries join only once their transaction committed, and
 * only small ones (a whole flag body stays on disk). A seq not held here is read from the file.
 */
interface RecentEntries {
  remember(entry: AuditEntry, canonicalLength: number): void;
  committed(): void;
  rolledBack(): void;
  /** Entries with seq > afterSeq held here, in order, contiguous, at most `limit`; empty when afterSeq + 1 is not held. */
  after(afterSeq: number, limit: number): AuditEntry[];
}

function createRecentEntries(capacity: number, maxLength: number): RecentEntries {
  let held: AuditEntry[] = [];
  let pending: Array<AuditEntry | undefined> = [];
  return {
    remember: (entry, length) => void pending.push(length <= maxLength ? entry : undefined),
    committed() {
      for (const entry of pending) {
        // A gap (an entry too large, or written by another process) restarts the run held.
        if (!entry || (held.length > 0 && held[held.length - 1]!.seq !== entry.seq - 1)) held = [];
        if (entry) held.push(entry);
      }
      pending = [];
      if (held.length > capacity) held = held.slice(held.length - capacity);
    },
    rolledBack: () => void (pending = []),
    after(afterSeq, limit) {
      const first = held[0];
      if (!first || afterSeq + 1 < first.seq || afterSeq >= held[held.length - 1]!.seq) return [];
      const start = afterSeq + 1 - first.seq;
      return held.slice(start, start + limit);
    },
  };
}

interface PendingCursors {
  set(sink: string, seq: number): void;
  pending(sink: string): number;
  /** A signed checkpoint to store: resolves once it is on disk, rejects when the write failed (it is then dropped). */
  checkpoint(cp: Checkpoint): Promise<void>;
  /** Writes the pending cursors and checkpoints inside the caller's transaction; `written()` once it committed. */
  writeIn(): void;
  written(): void;
  /** Writes them in a transaction of their own. */
  flush(): void;
}

interface WaitingCheckpoint {
  cp: Checkpoint;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * Sink cursors and signed checkpoints not yet on disk: they ride along with the next commit (one
 * fsync for all), or a timer writes them. A checkpoint on its own transaction was an fsync on the
 * event loop every hundred entries.
 */
function createPendingCursors(db: Database.Database, st: ReturnType<typeof prepareStatements>, flushMs: number): PendingCursors {
  const waiting = new Map<string, number>();
  let checkpoints: WaitingCheckpoint[] = [];
  const writeIn = (): void => {
    for (const [sink, seq] of waiting) st.putCursor.run(sink, seq);
    for (const { cp } of checkpoints) st.insertCheckpoint.run(cp.seq, cp.chainId, cp.hash, cp.time, cp.kid, cp.jws);
  };
  // Cleared only once the transaction committed: a rolled-back write keeps them pending.
  const written = (): void => {
    waiting.clear();
    const stored = checkpoints;
    checkpoints = [];
    flushLater.cancel();
    clearTimeout(checkpointTimer);
    checkpointTimer = undefined;
    for (const c of stored) c.resolve();
  };
  const flushTx = db.transaction(writeIn);
  // A checkpoint not written is dropped, never left waiting: its signer signs the head again later.
  const dropCheckpoints = (err: unknown): void => {
    const failed = checkpoints;
    checkpoints = [];
    for (const c of failed) c.reject(err);
  };
  const flush = (): void => {
    if (!db.open) return dropCheckpoints(new FlaggateError('AUDIT_WRITE_FAILED', 'the ledger is closed'));
    if (waiting.size === 0 && checkpoints.length === 0) return;
    try {
      flushTx.immediate();
      written();
    } catch (err) {
      // Cursors stay pending: the next commit or flush writes them; a cursor that lags only costs a resend.
      dropCheckpoints(err);
    }
  };
  const flushLater = delayed(flush, flushMs);
  const soon = (): void => (flushMs <= 0 ? flush() : flushLater.schedule());
  // Unlike the cursors' timer, this one holds the process open: a checkpoint's signer waits for it.
  let checkpointTimer: NodeJS.Timeout | undefined;
  return {
    set(sink, seq) {
      if (seq <= (waiting.get(sink) ?? 0)) return;
      waiting.set(sink, seq);
      soon();
    },
    pending: (sink) => waiting.get(sink) ?? 0,
    checkpoint(cp) {
      return new Promise((resolve, reject) => {
        checkpoints.push({ cp, resolve, reject });
        if (flushMs <= 0) flush();
        else checkpointTimer ??= setTimeout(flush, flushMs);
      });
    },
    writeIn,
    written,
    flush,
  };
}

/**
 * Opens (creating if needed) the SQLite ledger: WAL, synchronous=FULL, triggers that refuse
 * UPDATE and DELETE. A file already bound to another chain id is refused (one file, one chain).
 */
export function openLedger(options: { path: string; chainId: string; clock: Clock; limits?: EntryLimits; cursorFlushMs?: number }): Ledger {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.chainId)) throw new FlaggateError('CONFIG_INVALID', `"${options.chainId.slice(0, 80)}" is not a chain id`);
  const limits = options.limits ?? defaultEntryLimits;
  const db = openLedgerFile(options.path);
  bindChain(db, options.path, options.chainId);
  const st = prepareStatements(db);
  const head = () => st.lastRow.get() ?? { seq: 0, hash: GENESIS_HASH };
  const prepare = (given: NewEntry): PreparedEntry => prepareChecked(given, limits);
  const cursors = createPendingCursors(db, st, options.cursorFlushMs ?? 200);
  const sealer: { seal?: (committed: readonly AuditEntry[]) => void } = {};
  const tail = createRecentEntries(256, 16 * 1024);
  const commit = createCommit(db, st, head, options, cursors, sealer, tail);

  return {
    chainId: options.chainId,
    path: options.path,
    prepare,
    commit,
    sealWith: (seal) => {
      sealer.seal = seal ? sealInTransaction(db, seal) : undefined;
    },
    append: (entry) => commit([prepare(entry)])[0]!,
    appendMany: (entries) => commit(entries.map(prepare)),
    head,
    rowsAfter: (afterSeq, limit) => st.rowsAfter.all(afterSeq, limit),
    census: (through) => st.census.get(through)!,
    entriesAfter: (afterSeq, limit) => {
      const recent = tail.after(afterSeq, limit);
      return recent.length > 0 ? recent : st.rowsAfter.all(afterSeq, limit).map(rowToEntry);
    },
    appendCheckpoint: (cp) => void st.insertCheckpoint.run(cp.seq, cp.chainId, cp.hash, cp.time, cp.kid, cp.jws),
    storeCheckpoint: (cp) => cursors.checkpoint(cp),
    checkpoints: (fromSeq = 0, toSeq = Number.MAX_SAFE_INTEGER) =>
      st.selectCheckpoints.all(fromSeq, toSeq).map((r) => ({ chainId: r.chain_id, seq: r.seq, hash: r.hash, time: r.time, kid: r.kid, jws: r.jws })),
    getMeta: (key) => st.selectMeta.get(key)?.value,
    setMeta: (key, value) => {
      if (key === 'chain_id') throw new TypeError('the chain id is fixed');
      st.upsertMeta.run(key, value);
    },
    sinkCursor: (sink) => Math.max(cursors.pending(sink), st.getCursor.get(sink)?.acked_seq ?? 0),
    setSinkCursor: (sink, seq) => cursors.set(sink, seq),
    close: () => {
      cursors.flush();
      db.close();
    },
  };
}

/**
 * What a failed commit means for the writer: SQLITE_FULL (no space for the WAL or the database, a
 * file-size limit reached mid-write) is AUDIT_DISK_FULL, retryable once space returns; anything else
 * (I/O error, a lock held too long) is AUDIT_WRITE_FAILED. SQLite rolled the transaction back.
 */
function commitFailure(cause: unknown, entries: number): FlaggateError {
  const code = (cause as { code?: unknown }).code;
  if (code === 'SQLITE_FULL') {
    return new FlaggateError('AUDIT_DISK_FULL', 'the disk holding the ledger is full; nothing was written', { cause, details: { sqlite: code } });
  }
  const what = entries === 1 ? 'the audit entry' : `the ${entries} audit entries`;
  return new FlaggateError('AUDIT_WRITE_FAILED', `${what} could not be committed`, { cause, details: typeof code === 'string' ? { sqlite: code } : {} });
}
