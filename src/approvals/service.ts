import { isoUtc } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { createContext, type Approvals, type ApprovalsContext, type ApprovalsDeps, type Reviewer } from './context.js';
import { apply, hold } from './hold-apply.js';
import { personKey, samePerson } from './person.js';
import { current, decideWith, mayApprove, pending, refuse, step } from './review-steps.js';
import { approvalFacts } from './entries.js';
import { finishInterrupted } from './finish-interrupted.js';
import type { Approval, ChangeRequest, Review } from './store.js';

export type { ApplyResult, Approvals, ApprovalsDeps } from './context.js';

/**
 * Builds the approvals stage. Separation of duties: the requester never approves their own change,
 * each approver counts once, approvers need a role the policy lists for the change (`change.approve`),
 * and the policy is evaluated again with the approvals before anything is forwarded.
 */
export function createApprovals(deps: ApprovalsDeps): Approvals {
  const ctx = createContext(deps);
  const oneReviewAtATime = serializedByKey();
  return {
    async review(h) {
      const token = h.req.headers['x-flaggate-approval'];
      if (token === undefined) return { held: await hold(ctx, h, []) };
      const claims = await ctx.verifyApprovalToken(token.trim(), {
        platform: h.change.platform,
        method: h.req.method,
        path: h.req.path,
        bodySha256: h.req.bodySha256,
        requesterId: h.actor.id,
        ticket: h.context.ticket,
      });
      if (samePerson(claims.approval.approverId, h.actor.id)) throw new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change');
      if (!(await ctx.store.spendJti(claims.issuer, claims.jti, h.req.bodySha256, isoUtc(ctx.clock.now())))) {
        throw new FlaggateError('APPROVAL_TOKEN_REPLAYED', 'this approval token was already used', { details: { jti: claims.jti } });
      }
      const approvals = [claims.approval];
      const decision = decideWith(ctx, { requester: h.actor, change: h.change, context: h.context }, approvals);
      if (decision.holdForApprovals) return { held: await hold(ctx, h, approvals) };
      return { decision, decorate: (entry) => ({ ...entry, approval: approvalFacts(decision, approvals, claims.approval.proof) }) };
    },

    list(status) {
      return ctx.store.list(status);
    },

    async get(id) {
      const request = await current(ctx, id);
      return { request, approvals: await ctx.store.approvals(id) };
    },

    // One review of a change at a time, on this sidecar and (through the store) across the fleet: a
    // second approval by the same person finds the first's row before it records anything, and the
    // approvals an entry lists are those stored.
    approve: (id, approver, reason) => oneReviewAtATime(id, async () => apply(ctx, await ctx.store.reviewing(id, (review) => countApproval(ctx, review, { id, approver, reason })))),

    async reject(id, reviewer, reason) {
      // As an approval: a change is settled only through the sidecar that held it (or a listed peer).
      const cr = await pending(ctx, id, reviewer, reason, 'change.rejected');
      // The requester may withdraw their own change; anyone else needs a role that could approve it.
      // Only the requester's exact id withdraws: samePerson's looser match (case, width, spaces) is
      // for refusing a self-approval, and would let another principal withdraw without a role.
      const may = reviewer.id === cr.requester.id ? undefined : mayApprove(ctx, cr, reviewer);
      if (may && !may.allow) {
        const error = new FlaggateError('APPROVAL_ROLE_MISSING', may.reasons.join('; '), { details: { approverRoles: cr.approverRoles } });
        await step(ctx, cr, 'change.rejected', reviewer, reason, error);
        throw error;
      }
      if (!(await ctx.store.settle(cr.id, 'rejected'))) throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${id} is no longer pending`);
      await step(ctx, { ...cr, status: 'rejected' }, 'change.rejected', reviewer, reason);
    },

    async sweep() {
      let expired = 0;
      for (const cr of await ctx.store.list('pending')) if ((await current(ctx, cr.id)).status === 'expired') expired++;
      await finishInterrupted(ctx);
      return expired;
    },
  };
}

/** Records and stores one approval of a pending change, or refuses it (recorded); returns the change as it was read. */
async function countApproval(ctx: ApprovalsContext, review: Review, r: { id: string; approver: Reviewer; reason: string | null }): Promise<ChangeRequest> {
  const { id, approver, reason } = r;
  // Before anything is counted, a change held elsewhere is refused: an approval given here could only be applied here.
  const cr = await pending(ctx, id, approver, reason, 'change.approved');
  if (samePerson(approver.id, cr.requester.id)) {
    await refuse(ctx, cr, approver, reason, new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change'));
  }
  const may = mayApprove(ctx, cr, approver);
  if (!may.allow) await refuse(ctx, cr, approver, reason, new FlaggateError('APPROVAL_ROLE_MISSING', may.reasons.join('; '), { details: { approverRoles: cr.approverRoles } }));
  // Stored by person key, so the store's uniqueness also catches the same person in another case.
  const approval: Approval = { approverId: personKey(approver.id), roles: [...approver.roles], authMethod: approver.authMethod, approvedAt: ctx.now(), reason, proof: null };
  const duplicate = () => refuse(ctx, cr, approver, reason, new FlaggateError('APPROVAL_DUPLICATE', `${approver.id} already approved this change; each approver counts once`));
  const before = await ctx.store.approvals(cr.id);
  if (before.some((a) => a.approverId === approval.approverId)) await duplicate();
  // The entry before the row: a row counts only with its entry, so a reviewer applying the
  // change meanwhile (another sidecar of the fleet) must never find this row without it (it
  // would refuse the change as tampered). An approval whose row then fails is on record, not counted.
  // A review whose hold on the change was lost meanwhile (another may be past its read) records nothing.
  await review.confirmHeld();
  await step(ctx, cr, 'change.approved', approver, reason, undefined, [...before, approval]);
  // Under the hold: with the shared store, on the hold's own session, so a hold lost since stores nothing.
  if (!(await review.addApproval(approval))) await duplicate();
  return cr;
}

/** Runs each `work` after the ones before it under the same key, not after those of other keys. */
function serializedByKey(): <T>(key: string, work: () => Promise<T>) => Promise<T> {
  const tails = new Map<string, Promise<unknown>>();
  return (key, work) => {
    const next = (tails.get(key) ?? Promise.resolve()).then(work, work);
    const tail = next.catch(() => undefined);
    tails.set(key, tail);
    void tail.then(() => tails.get(key) === tail && tails.delete(key));
    return next;
  };
}
