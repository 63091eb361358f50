/** Review steps of a held change: deciding who may approve, recording each step, proving a row from the ledger. */
import { randomUUID } from 'node:crypto';
import { asFlaggateError, FlaggateError } from '../errors.js';
import { policyInput, type Decision } from '../policy/index.js';
import type { ApprovalsContext, Reviewer } from './context.js';
import { stepEntry } from './entries.js';
import { boundToLedger } from './ledger-bound.js';
import type { Approval, ChangeRequest } from './store.js';

export function decideWith(ctx: ApprovalsContext, cr: Pick<ChangeRequest, 'requester' | 'change' | 'context'>, approvals: Approval[]): Decision {
  return ctx.policy.decide(policyInput({ actor: cr.requester, change: cr.change, approvals, context: cr.context, timeUtc: ctx.now() }));
}

/**
 * The policy on `change.approve` for this change's flag and environment, and for a change over many
 * flags (a batch, a segment's reach, an import) its member flags and their environments: the critical
 * member that held it is what the approver approves.
 */
export function mayApprove(ctx: ApprovalsContext, cr: ChangeRequest, approver: Reviewer): Decision {
  const { platform, flagKey, previousState, environment, environments, flags } = cr.change;
  const change = {
    action: 'change.approve',
    platform,
    flagKey,
    previousState,
    ...(environment === undefined ? {} : { environment }),
    ...(environments === undefined ? {} : { environments }),
    ...(flags === undefined ? {} : { flags }),
  };
  return ctx.policy.decide(policyInput({ actor: approver, change, timeUtc: ctx.now() }));
}

/** Records a review step; `approvals` are the change's approvals with it, where they are not all stored yet. */
export async function step(
  ctx: ApprovalsContext,
  cr: ChangeRequest,
  type: 'change.approved' | 'change.rejected' | 'change.expired',
  actor: Reviewer,
  reason: string | null,
  refusal?: FlaggateError,
  approvals?: Approval[],
): Promise<void> {
  // A caller refused again and again (any identified caller may try) writes no more than a proxy caller would.
  if (refusal && ctx.refusals && !ctx.refusals.admit(actor, refusal.code)) return;
  const entry = stepEntry(cr, {
    type,
    decisionId: randomUUID(),
    actor,
    accepted: refusal === undefined,
    reasons: refusal ? [refusal.message] : [type === 'change.approved' ? `approved by ${actor.id}` : type === 'change.rejected' ? `rejected by ${actor.id}` : 'expired'],
    errorCode: refusal?.code ?? null,
    reason,
    approvals: approvals ?? (await ctx.store.approvals(cr.id)),
    policy: ctx.policy.revision,
  });
  await ctx.recordStep(entry, refusal === undefined);
}

/** A refused review step is recorded, then thrown. */
export async function refuse(ctx: ApprovalsContext, cr: ChangeRequest, actor: Reviewer, reason: string | null, error: FlaggateError): Promise<never> {
  await step(ctx, cr, 'change.approved', actor, reason, error);
  throw error;
}

/** The request, expired first when its time is up. */
export async function current(ctx: ApprovalsContext, id: string): Promise<ChangeRequest> {
  const cr = await ctx.store.get(id);
  if (!cr) throw new FlaggateError('CHANGE_NOT_FOUND', `no change request ${id}`);
  if (cr.status === 'pending' && cr.expiresAt <= ctx.now()) {
    if (await ctx.store.settle(cr.id, 'expired')) {
      await step(ctx, { ...cr, status: 'expired' }, 'change.expired', cr.requester, `not applied within ${ctx.expirySeconds} s`);
    }
    return { ...cr, status: 'expired' };
  }
  return cr;
}

/**
 * Why this sidecar may not apply a held change, if it may not: it was held for another platform
 * target, or by a chain that is neither this one nor a listed peer, or by a version that did not
 * record where it was held.
 */
export function heldElsewhere(ctx: ApprovalsContext, cr: ChangeRequest): FlaggateError | undefined {
  const here = ctx.sidecar(cr.change.platform);
  const by = cr.heldBy;
  const elsewhere = (why: string, reason: string) =>
    new FlaggateError('CHANGE_HELD_ELSEWHERE', `change request ${cr.id} ${why}; approve it through the sidecar that held it`, {
      details: { reason, heldBy: by, here: here ? { chainId: here.chainId, platform: here.platform } : null },
    });
  if (by === null) return elsewhere('does not say which sidecar held it', 'unbound');
  if (!here) return elsewhere(`was made on ${cr.change.platform}, a platform this sidecar does not front`, 'target');
  if (by.platform !== here.platform || by.targetSha256 !== here.targetSha256) return elsewhere(`was held for another platform target (${by.platform})`, 'target');
  if (by.chainId !== here.chainId && !ctx.peerChains.includes(by.chainId)) return elsewhere(`was held by chain ${by.chainId}, not a peer of this sidecar`, 'chain');
  return undefined;
}

/**
 * A pending request as its ledger entries prove it (requester, context, change); CHANGE_TAMPERED
 * otherwise, and the change is settled as denied. A change held by a sidecar this one may not
 * settle it for is refused as such, recorded as a refused `stepType`, never settled: where this
 * sidecar reads none of the holder's entries (the holder is not a peer), that is not tampering.
 */
export async function pending(ctx: ApprovalsContext, id: string, reviewer: Reviewer, reason: string | null, stepType: 'change.approved' | 'change.rejected'): Promise<ChangeRequest> {
  const cr = await current(ctx, id);
  if (cr.status === 'expired') throw new FlaggateError('CHANGE_EXPIRED', `change request ${id} expired at ${cr.expiresAt}; request it again`);
  if (cr.status !== 'pending') throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${id} is ${cr.status}`, { details: { status: cr.status } });
  const elsewhere = heldElsewhere(ctx, cr);
  let bound: ChangeRequest = cr;
  try {
    const entries = await ctx.evidence(cr.id);
    // The chain a row says held it is the chain its change.requested entry is in.
    const requestedIn = entries.find((e) => e.entry_type === 'change.requested')?.chain_id;
    if (!elsewhere || requestedIn !== undefined) {
      bound = boundToLedger(cr, [], entries).request;
      if (bound.heldBy !== null && bound.heldBy.chainId !== requestedIn) {
        throw new FlaggateError('CHANGE_TAMPERED', `change request ${cr.id} is refused: its row names another chain than its change.requested entry`, {
          details: { changeRequestId: cr.id },
        });
      }
    }
  } catch (err) {
    if (asFlaggateError(err).code === 'CHANGE_TAMPERED') await ctx.store.settle(cr.id, 'denied');
    return refuse(ctx, cr, reviewer, reason, asFlaggateError(err));
  }
  if (elsewhere) {
    await step(ctx, cr, stepType, reviewer, reason, elsewhere);
    throw elsewhere;
  }
  return bound;
}
