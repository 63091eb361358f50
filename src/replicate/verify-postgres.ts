import type { JSONWebKeySet } from 'jose';
import { verifyLedger, type LedgerVerifyReport } from '../audit/verify-ledger.js';
import { FlaggateError } from '../errors.js';
import { openPostgresReader } from './sinks/postgres.js';

/**
 * Verifies every chain in the central ledger with the same verifier as the local one, each against
 * its own chain id, the head listed for it (a read that stops early is caught), and, given the
 * sidecars' public keys, every signed checkpoint held for it (a chain cut below one is truncated).
 */
export async function verifyPostgresLedger(url: string, keys?: JSONWebKeySet): Promise<{ ok: boolean; chains: Array<LedgerVerifyReport & { checkpointsSkipped: number }> }> {
  const db = openPostgresReader(url);
  try {
    let heads: Awaited<ReturnType<typeof db.chains>>;
    try {
      heads = await db.chains();
    } catch (cause) {
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', 'cannot read flaggate.audit_entries from the PostgreSQL ledger', { cause });
    }
    const chains: Array<LedgerVerifyReport & { checkpointsSkipped: number }> = [];
    for (const { chainId, head } of heads) {
      const checkpoints = await db.checkpoints(chainId);
      const report = await verifyLedger({
        read: db.reader(chainId),
        checkpoints: keys ? checkpoints : [],
        keys: keys ?? { keys: [] },
        chainId,
        extraHeads: [{ ...head, source: 'listed head' }],
      });
      chains.push({ ...report, checkpointsSkipped: keys ? 0 : checkpoints.length });
    }
    return { ok: chains.every((c) => c.ok), chains };
  } finally {
    await db.close();
  }
}
