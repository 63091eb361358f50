import type { JSONWebKeySet } from 'jose';
import { provePostgresInWorkers, verifyLedger, type LedgerVerifyReport, type ParallelOptions } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import { openPostgresReader } from './sinks/postgres.js';

export type ChainReport = LedgerVerifyReport & { checkpointsSkipped: number };

export interface PostgresVerifyReport {
  ok: boolean;
  chains: ChainReport[];
  /** RFC 3161 tokens stay in each sidecar's ledger file: they are checked there and in exports, not here. */
  timestamps: { checked: false; reason: string };
}

/**
 * Verifies every chain in the central ledger with the same verifier as the local one, each against
 * its own chain id, the head listed for it (a read that stops early is caught), and, given a key
 * set per chain, every signed checkpoint held for it against that chain's keys only: a checkpoint
 * signed by another sidecar's key is `unknown_key`, and a chain with checkpoints but no key set
 * given fails the same way. A chain the keys name that holds no entries was removed (`truncated`).
 * A long chain's seq ranges are proven in worker threads, each over its own connection; what they
 * cannot prove is read again on this thread, which names the break.
 */
export async function verifyPostgresLedger(url: string, keysByChain?: ReadonlyMap<string, JSONWebKeySet>, parallel: ParallelOptions = {}): Promise<PostgresVerifyReport> {
  const db = openPostgresReader(url);
  try {
    let heads: Awaited<ReturnType<typeof db.chains>>;
    try {
      heads = await db.chains();
    } catch (cause) {
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', 'cannot read flaggate.audit_entries from the PostgreSQL ledger', { cause });
    }
    const chains: ChainReport[] = [];
    for (const { chainId, head } of heads) {
      const checkpoints = await db.checkpoints(chainId);
      const report = await verifyLedger({
        read: db.reader(chainId),
        census: db.census(chainId),
        checkpoints: keysByChain ? checkpoints : [],
        keys: keysByChain?.get(chainId) ?? { keys: [] },
        chainId,
        extraHeads: [{ ...head, source: 'listed head' }],
        prove: provePostgresInWorkers(url, chainId, () => head.seq, parallel),
      });
      chains.push({ ...report, checkpointsSkipped: keysByChain ? 0 : checkpoints.length });
    }
    for (const chainId of keysByChain?.keys() ?? []) {
      if (heads.some((h) => h.chainId === chainId)) continue;
      chains.push({
        ok: false, chainId, entries: 0, from: 1, anchored: false, head: { seq: 0, hash: '' }, trustedHeads: 0, checkpointsSkipped: 0,
        failure: { code: 'AUDIT_CHAIN_BROKEN', seq: 1, kind: 'truncated', message: `chain "${chainId}" has keys but no entries upstream` },
        checkpoints: { checked: 0, latest: null },
      });
    }
    return {
      ok: chains.every((c) => c.ok),
      chains,
      timestamps: { checked: false, reason: 'timestamp tokens are not replicated to PostgreSQL: verify each sidecar ledger or export for them' },
    };
  } finally {
    await db.close();
  }
}
