import { existsSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import type { JSONWebKeySet } from 'jose';
import { openLedger, openLedgerReader, verifyLedger, type LedgerVerifyReport } from './audit/index.js';
import type { Clock } from './clock.js';
import { FlaggateError } from './errors.js';
import { openPostgresReader } from './replicate/index.js';

export interface RestoreReport {
  chainId: string;
  ledger: string;
  head: { seq: number; hash: string };
  entries: number;
  checkpoints: number;
  /** Timestamp tokens stay in the sidecar's file and are not replicated; the restored head is stamped on the next start. */
  tokens: 0;
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
export async function restoreFromPostgres(o: { url: string; chainId: string; ledger: string; keys: JSONWebKeySet; clock: Clock }): Promise<RestoreReport> {
  const target = resolve(o.ledger);
  if (existsSync(target)) throw new FlaggateError('CONFIG_INVALID', `${target} exists: restore writes a lost ledger, it never replaces one (move it away first)`);
  const pg = openPostgresReader(o.url);
  const partial = `${target}.restoring`;
  try {
    const head = (await pg.chains()).find((c) => c.chainId === o.chainId)?.head;
    if (!head) throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the PostgreSQL ledger holds no entries of chain "${o.chainId}"`, { details: { chainId: o.chainId } });
    const checkpoints = await pg.checkpoints(o.chainId);
    const expect = { chainId: o.chainId, checkpoints, keys: o.keys, extraHeads: [{ ...head, source: 'PostgreSQL head' }] };
    refuseUnless(await verifyLedger({ read: pg.reader(o.chainId), ...expect }), 'the PostgreSQL copy');

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
        after = rows.at(-1)!.seq;
      }
      db.transaction(() => checkpoints.forEach((c) => insertCheckpoint.run(c.seq, c.chainId, c.hash, c.time, c.kid, c.jws)))();
    } finally {
      db.close();
    }

    const local = openLedgerReader(partial);
    let report: LedgerVerifyReport;
    try {
      report = await verifyLedger({ read: local.read, ...expect, checkpoints: local.checkpoints() });
    } finally {
      local.close();
    }
    refuseUnless(report, 'the restored file');
    if (report.head.seq !== head.seq || report.head.hash !== head.hash) {
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', `the restored file ends at ${report.head.seq}, the PostgreSQL copy at ${head.seq}`, { details: { restored: report.head, upstream: head } });
    }
    renameSync(partial, target);
    return { chainId: o.chainId, ledger: target, head, entries: report.entries, checkpoints: checkpoints.length, tokens: 0 };
  } finally {
    for (const f of [partial, `${partial}-wal`, `${partial}-shm`]) rmSync(f, { force: true });
    await pg.close();
  }
}

function refuseUnless(report: LedgerVerifyReport, what: string): void {
  if (report.ok) return;
  throw new FlaggateError('AUDIT_CHAIN_BROKEN', `${what} does not verify; nothing was restored: ${report.failure?.message ?? 'unknown failure'}`, {
    details: { chainId: report.chainId, ...(report.failure ? { failure: report.failure } : {}) },
  });
}
