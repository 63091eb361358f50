import { verifyChain, type VerifyReport } from '../audit/verify.js';
import { FlaggateError } from '../errors.js';
import { openPostgresReader } from './sinks/postgres.js';

/**
 * Verifies every chain in the central ledger with the same verifier as the local one, each against
 * its own chain id, and also against the head listed for it (a row lost mid-chain is caught either
 * way; the listed head catches a read that stops early).
 */
export async function verifyPostgresLedger(url: string): Promise<{ ok: boolean; chains: VerifyReport[] }> {
  const db = openPostgresReader(url);
  try {
    let heads: Awaited<ReturnType<typeof db.chains>>;
    try {
      heads = await db.chains();
    } catch (cause) {
      throw new FlaggateError('AUDIT_CHAIN_BROKEN', 'cannot read flaggate.audit_entries from the PostgreSQL ledger', { cause });
    }
    const chains: VerifyReport[] = [];
    for (const { chainId, head } of heads) chains.push(await verifyChain(db.reader(chainId), { chainId, trusted: [{ ...head, source: 'listed head' }] }));
    return { ok: chains.every((c) => c.ok), chains };
  } finally {
    await db.close();
  }
}
