import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { JSONWebKeySet } from 'jose';
import { openLedger, openLedgerReader, verifyLedger, type LedgerVerifyReport } from './audit/index.js';
import type { Clock } from './clock.js';
import { FlaggateError } from './errors.js';
import { archiveBundle, BUNDLE_ARCHIVE_DIR } from './policy/index.js';
import { openPostgresReader, type PostgresLedgerReader } from './replicate/index.js';

export interface RestoreReport {
  chainId: string;
  ledger: string;
  head: { seq: number; hash: string };
  entries: number;
  checkpoints: number;
  /** Timestamp tokens stay in the sidecar's file and are not replicated; the restored head is stamped on the next start. */
  tokens: 0;
  /** The policy bundles the restored entries name, written back to the bundle archive from PostgreSQL; `missing`: named but not held there. */
  bundles: { restored: number; missing: string[] };
}

const PAGE = 1000;

/**
 * `flaggate restore --from-postgres URL --chain ID`: rebuilds a lost sidecar's local ledger from the
 * central copy. The central chain is verified first (every hash recomputed, every checkpoint
 * against `keys`, the listed head), rows are copied byte for byte into a new file beside `ledger`,
 * that file is verified again against the same head and checkpoints, and only then renamed into
 * place. Any failure leaves no ledger behind: AUDIT_CHAIN_BROKEN (with the failure as evidence)
 * for a copy that does not verify; CONFIG_INVALID when a ledger is already there.
 */
export async function restoreFromPostgres(o: { url: string; chainId: string; ledger: string; keys: JSONWebKeySet; clock: Clock; archiveDir?: string }): Promise<RestoreReport> {
  const target = resolve(o.ledger);
  // A -wal or -shm left beside the place (a crashed sidecar's) would be replayed into the restored file.
  const there = [target, `${target}-wal`, `${target}-shm`].find((f) => existsSync(f));
  if (there) throw new FlaggateError('CONFIG_INVALID', `${there} exists: restore writes a lost ledger, it never replaces one or mixes with its leftovers (move it away first)`);
  const pg = openPostgresReader(o.url);
  const partial = `${target}.restoring`;
  const named = new Set<string>();
  try {
    const head = (await pg.chains()).find((c) => c.chainId === o.chainId)?.head;
    if (!head) throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the PostgreSQL ledger holds no entries of chain "${o.chainId}"`, { details: { chainId: o.chainId } });
    const checkpoints = await pg.checkpoints(o.chainId);
    const expect = { chainId: o.chainId, checkpoints, keys: o.keys, extraHeads: [{ ...head, source: 'PostgreSQL head' }] };
    refuseUnless(await verifyLedger({ read: pg.reader(o.chainId), census: pg.census(o.chainId), ...expect }), 'the PostgreSQL copy');

    for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(f, { force: true });
    openLedger({ path: partial, chainId: o.chainId, clock: o.clock }).close();
    const db = new Database(partial);
    try {
      db.pragma('synchronous = FULL');
      const insert = db.prepare('INSERT INTO audit_entries (seq, chain_id, prev_hash, hash, body) VALUES (?, ?, ?, ?, ?)');
      const insertCheckpoint = db.prepare('INSERT INTO checkpoints (seq, chain_id, hash, time, kid, jws) VALUES (?, ?, ?, ?, ?, ?)');
      const read = pg.reader(o.chainId);
      for (let after = 0; after < head.seq; ) {
        const rows = await read(after, PAGE);
        if (rows.length === 0) break;
        db.transaction(() => rows.forEach((r) => insert.run(r.seq, r.chain_id, r.prev_hash, r.hash, r.body)))();
        for (const r of rows) bundlesNamedBy(r.body, named);
        after = rows.at(-1)!.seq;
      }
      db.transaction(() => checkpoints.forEach((c) => insertCheckpoint.run(c.seq, c.chainId, c.hash, c.time, c.kid, c.jws)))();
    } finally {
      db.close();
    }

    const local = openLedgerReader(partial);
    let report: LedgerVerifyReport;
    try {
      report = await verifyLedger({ read: local.read, census: local.census, ...expect, checkpoints: local.checkpoints() });
    } finally {
      local.close();
    }
    refuseUnless(report, 'the restored file');
    if (report.head.seq !== head.seq || report.head.hash !== head.hash) {
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the restored file ends at ${report.head.seq}, the PostgreSQL copy at ${head.seq}`, { details: { restored: report.head, upstream: head } });
    }
    renameSync(partial, target);
    const bundles = await restoreBundles(pg, named, o.archiveDir ?? join(dirname(target), BUNDLE_ARCHIVE_DIR));
    return { chainId: o.chainId, ledger: target, head, entries: report.entries, checkpoints: checkpoints.length, tokens: 0, bundles };
  } finally {
    for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(f, { force: true });
    await pg.close();
  }
}

/** The bundle digests an entry names: the bundle that decided it, and the one a `policy.activated` entry swapped in. */
function bundlesNamedBy(body: string, into: Set<string>): void {
  const e = JSON.parse(body) as { decision?: { policy_sha256?: unknown } | null; entry_type?: string; new_state?: { sha256?: unknown } | null };
  for (const d of [e.decision?.policy_sha256, e.entry_type === 'policy.activated' ? e.new_state?.sha256 : undefined]) {
    if (typeof d === 'string' && /^[0-9a-f]{64}$/.test(d)) into.add(d);
  }
}

/**
 * Writes the named bundles PostgreSQL holds back into the bundle archive, so replay works on the
 * restored data dir as before. The archive names each file by the digest of its bytes, so a row
 * whose bytes are not the bundle it claims cannot stand in for it.
 */
async function restoreBundles(pg: PostgresLedgerReader, named: ReadonlySet<string>, archiveDir: string): Promise<RestoreReport['bundles']> {
  const restored = new Set<string>();
  for (const b of await pg.bundles()) {
    if (named.has(b.sha256) && archiveBundle(archiveDir, b.bytes) === b.sha256) restored.add(b.sha256);
  }
  return { restored: restored.size, missing: [...named].filter((d) => !restored.has(d)).sort() };
}

function refuseUnless(report: LedgerVerifyReport, what: string): void {
  if (report.ok) return;
  throw new FlaggateError('AUDIT_CHAIN_BROKEN', `${what} does not verify; nothing was restored: ${report.failure?.message ?? 'unknown failure'}`, {
    details: { chainId: report.chainId, ...(report.failure ? { failure: report.failure } : {}) },
  });
}
