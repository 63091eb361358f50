import type { Config } from '../config/index.js';
import type { ErrorCode } from '../errors.js';
import type { PolicyRevision } from '../policy/index.js';
import type { Evidence } from './evidence.js';

type Check = { ok: boolean; code?: ErrorCode; detail?: string };

/**
 * Ready means a change sent now could be recorded and forwarded: the ledger answers, no required
 * sink is so far behind that changes are refused, every upstream copy is in step with the local
 * chain (a copy ahead or forked refuses service), and no conflicting checkpoint sits upstream.
 */
export function readinessOf(evidence: Evidence, config: Readonly<Config>, policy: { readonly revision: PolicyRevision }): () => Promise<Record<string, Check>> {
  const { ledger, replicator, upstreamWatch, upstreamGuard, checkpointPublisher } = evidence;
  return async () => {
    const head = ledger.head().seq;
    const acked = replicator.acked();
    const sinks = config.replicate.sinks
      .filter((sink) => sink.required)
      .map((sink): [string, Check] => {
        const behind = head - (acked[sink.name] ?? 0);
        return [`sink:${sink.name}`, { ok: behind <= config.replicate.maxBacklog, detail: `${behind} entries behind` }];
      });
    const checks = await upstreamWatch.current();
    upstreamGuard.observe(checks);
    const refused = upstreamGuard.refusal();
    const copies = checks
      .filter((c) => !c.ok)
      .map((c): [string, Check] => [`upstream:${c.sink}`, { ok: false, code: c.kind === 'cut' ? ('AUDIT_UPSTREAM_AHEAD' as const) : ('AUDIT_CHAIN_BROKEN' as const), detail: `${c.kind}: ${c.message}` }]);
    const conflicts = [...checkpointPublisher.conflicts()].map(([sink, err]): [string, Check] => [`checkpoints:${sink}`, { ok: false, code: err.code, detail: err.message }]);
    return {
      ledger: probe(() => ledger.head()),
      policy: { ok: true, detail: policy.revision.revision },
      'upstream-copy': refused ? { ok: false, code: refused.code, detail: refused.message } : { ok: true },
      ...Object.fromEntries([...sinks, ...copies, ...conflicts]),
    };
  };
}

function probe(check: () => unknown): Check {
  try {
    check();
    return { ok: true };
  } catch (err) {
    return { ok: false, detail: String(err) };
  }
}
