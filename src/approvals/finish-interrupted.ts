import type { AuditEntry } from '../audit/index.js';
import type { ApprovalsContext } from './context.js';
import type { ChangeRequest } from './store.js';

/**
 * Held changes left `applying`: released to the forwarder, but the status the platform's answer
 * gives was never stored (a crash mid-forward, settled at start-up by the in-doubt reconciliation,
 * or a store that failed once the platform answered). Each takes the status its outcome entry
 * proves (`applied`, `unknown`, or `failed` for any other outcome), as a live apply stores it. A
 * change with no outcome entry yet stays: it may be mid-forward on a sidecar of the fleet. Returns
 * how many were finished.
 */
export async function finishInterrupted(ctx: Pick<ApprovalsContext, 'store' | 'evidence'>): Promise<number> {
  let finished = 0;
  for (const cr of await ctx.store.list('applying')) {
    const outcome = provenOutcome(cr, await ctx.evidence(cr.id));
    if (outcome && (await ctx.store.finish(cr.id, outcome === 'applied' || outcome === 'unknown' ? outcome : 'failed'))) finished++;
  }
  return finished;
}

/** The outcome of the allowed decision that released `cr`, in the chain that recorded that decision. */
function provenOutcome(cr: ChangeRequest, entries: AuditEntry[]): string | undefined {
  const released = entries.filter((e) => e.entry_type === 'change.decision' && e.decision.allow && e.change_request_id === cr.id);
  // Claimed once, so released once; more than one is not for this sweep to settle.
  if (released.length !== 1) return undefined;
  const [decision] = released as [AuditEntry];
  const outcomes = entries.filter((e) => e.entry_type === 'change.outcome' && e.decision_id === decision.decision_id && e.chain_id === decision.chain_id && e.seq > decision.seq);
  return outcomes.length === 1 ? outcomes[0]!.outcome?.status : undefined;
}
