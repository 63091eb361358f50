import { entryTimesFrom, firstFailure, proveInWorkers, verifyLedger } from '../audit/index.js';
import type { Config } from '../config/index.js';
import { upstreamTrust } from '../replicate/index.js';
import { verifyCoverage } from '../timestamp/index.js';
import type { Evidence } from './evidence.js';

/**
 * The local chain against every checkpoint it holds and every head and checkpoint its upstream
 * copies hold (signatures checked with this sidecar's keyring), and its timestamp tokens, each
 * bound to the time of the entries it covers. `ok: false` always names its failure.
 */
export async function verifyLocal(evidence: Evidence, bounds: Config['verify']) {
  const { ledger, keyring, timestamper } = evidence;
  evidence.commitWaiting(); // the tail covered below is the one the chain check reads
  await timestamper.coverHead().catch(() => undefined); // an outage shows as uncovered entries below
  const upstream = await evidence.upstreamGuard.refresh();
  const trust = upstreamTrust(upstream);
  const chain = await verifyLedger({
    read: ledger.rowsAfter,
    census: ledger.census,
    // A large ledger's ranges are proven in worker threads, off the event loop that serves changes.
    prove: proveInWorkers(ledger.path, () => ledger.head().seq),
    checkpoints: [...ledger.checkpoints(), ...trust.checkpoints],
    keys: keyring.jwks(),
    chainId: ledger.chainId,
    extraHeads: trust.extraHeads,
  });
  const timestamps = verifyCoverage({
    tokens: timestamper.tokens(),
    rowHashAt: (seq) => ledger.rowsAfter(seq - 1, 1).find((r) => r.seq === seq)?.hash,
    headSeq: ledger.head().seq,
    trust: timestamper.trust,
    times: { entryTime: entryTimesFrom(ledger.rowsAfter), maxDelaySeconds: bounds.maxTimestampDelaySeconds, skewSeconds: bounds.clockSkewSeconds },
  });
  const failure = firstFailure({ chain, upstream, timestamps });
  return { ...chain, ok: failure === undefined, ...(failure ? { failure } : {}), timestamps, upstream };
}

/**
 * `verify`, where a call while one is under way joins it instead of starting another: a full
 * verify reads the whole chain and asks the TSA, and callers asking at once (an auditor's script,
 * the console) would otherwise each run their own. A call after it settles runs a new one.
 */
export function sharedVerify<T>(verify: () => Promise<T>): () => Promise<T> {
  let running: Promise<T> | undefined;
  return () => (running ??= verify().finally(() => (running = undefined)));
}
