/** Holding a change, and applying an approved one by handing it back to the pipeline. */
import { randomUUID } from 'node:crypto';
import { canonicalJson, decisionEntry } from '../audit/index.js';
import { isoUtc } from '../clock.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { HeldWrite, Reply } from '../pipeline/index.js';
import type { FlagChange } from '../platforms/index.js';
import type { ApplyResult, ApprovalsContext } from './context.js';
import { approvalFacts, linked } from './entries.js';
import { heldHeaders } from './held-headers.js';
import { boundToLedger } from './ledger-bound.js';
import { rederiveHeld } from './rederive.js';
import type { Approval, ChangeRequest, HeldBy } from './store.js';
import { heldElsewhere, step } from './review-steps.js';

export async function hold(ctx: ApprovalsContext, h: HeldWrite, approvals: Approval[]): Promise<Reply> {
  const id = randomUUID();
  const created = ctx.clock.now();
  const cr: ChangeRequest = {
    id,
    decisionId: h.decisionId,
    status: 'pending',
    createdAt: isoUtc(created),
    expiresAt: isoUtc(created + ctx.expirySeconds * 1000),
    requester: { id: h.actor.id, displayName: h.actor.displayName, authMethod: h.actor.authMethod, roles: [...h.actor.roles] },
    method: h.req.method.toUpperCase(),
    path: h.req.path,
    headers: heldHeaders(h.req.headers),
    body: Buffer.from(h.req.body),
    bodySha256: h.req.bodySha256,
    change: h.change,
    context: h.context,
    requiredApprovals: h.decision.requiredApprovals,
    approverRoles: h.decision.approverRoles,
    heldBy: { ...heldHere(ctx, h.change.platform) },
  };
  const requested = decisionEntry({ decisionId: h.decisionId, actor: h.actor, change: h.change, context: h.context, decision: h.decision });
  await ctx.recordStep(
    { ...requested, entry_type: 'change.requested', change_request_id: id, approval: approvalFacts(cr, approvals, null), decision: { ...requested.decision, error_code: null } },
    true,
  );
  await ctx.store.insert(cr);
  for (const a of approvals) await ctx.store.addApproval(id, a);
  const base = ctx.controlUrl() ?? '';
  const body = {
    changeRequestId: id,
    status: 'pending',
    approveUrl: `${base}/v1/changes/${id}/approve`,
    expiresAt: cr.expiresAt,
    requiredApprovals: cr.requiredApprovals,
    approverRoles: cr.approverRoles,
    reasons: h.decision.reasons,
  };
  return heldReply(heldStatusFor(ctx, h), id, body);
}

/**
 * 202 by default. Tools that take any 2xx as done (Terraform/OpenTofu providers, CI steps) are
 * given 409 with Retry-After instead, by configuration (`approvals.heldStatus`) or per request
 * (`X-Flaggate-Held-Status: 409`), so an unapproved change never looks applied.
 */
function heldStatusFor(ctx: ApprovalsContext, h: HeldWrite): 202 | 409 {
  const asked = h.req.headers['x-flaggate-held-status']?.trim();
  return asked === '409' ? 409 : asked === '202' ? 202 : ctx.heldStatus;
}

function heldReply(status: 202 | 409, id: string, body: Record<string, unknown>): Reply {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8', location: `/v1/changes/${id}` };
  if (status === 202) return { status, headers, body: Buffer.from(JSON.stringify(body)) };
  headers['retry-after'] = '60';
  const error = { code: 'CHANGE_HELD_FOR_APPROVAL', message: `the change is held until it is approved (change request ${id}); it has not been applied`, ...body };
  return { status, headers, body: Buffer.from(JSON.stringify(error)) };
}

/** A refusal of a held change, before it goes back to the pipeline: settled once, recorded once. */
export async function refuseHeld(ctx: ApprovalsContext, cr: ChangeRequest, approvals: Approval[], error: FlaggateError, status: 'denied' | 'stale', change = cr.change): Promise<never> {
  if (await ctx.store.settle(cr.id, status)) {
    const decision = { refused: { code: error.code, message: error.message }, policy: ctx.policy.revision };
    await ctx.recordStep(linked(decisionEntry({ decisionId: randomUUID(), actor: { ...cr.requester, claims: {} }, change, context: cr.context, decision }), cr, approvals), false);
  }
  throw error;
}

/**
 * With its approvals: proven from the ledger, the stored request classified again, the platform
 * state it was decided against checked again; then back to the pipeline, which decides with the
 * approvals and records, timestamps, replicates and forwards.
 */
export async function apply(ctx: ApprovalsContext, cr: ChangeRequest): Promise<ApplyResult> {
  const elsewhere = heldElsewhere(ctx, cr);
  if (elsewhere) throw elsewhere;
  // heldElsewhere has refused a change made on a platform this sidecar does not front.
  const platform = ctx.platform(cr.change.platform)!;
  let approvals: Approval[];
  let forward;
  let classified: FlagChange;
  try {
    ({ approvals } = boundToLedger(cr, await ctx.store.approvals(cr.id), await ctx.evidence(cr.id)));
    ({ forward, classified } = rederiveHeld(cr, platform));
  } catch (err) {
    return refuseHeld(ctx, cr, [], asFlaggateError(err), 'denied');
  }
  // Checked by the pipeline under the change's flag locks, which it holds through the forward.
  const unchanged = async (): Promise<void> => {
    // A reviewer who waited for the locks behind the one who applied it (or rejected it) is told
    // so, not that the flag has changed since: that change may be this very request's.
    const now = await ctx.store.get(cr.id);
    if (now && now.status !== 'pending') throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${cr.id} is ${now.status}`, { details: { status: now.status } });
    // Approved in time, but the wait for the flag's locks may have outlasted the request.
    if (cr.expiresAt <= ctx.now()) {
      if (await ctx.store.settle(cr.id, 'expired')) await step(ctx, { ...cr, status: 'expired' }, 'change.expired', cr.requester, `not applied within ${ctx.expirySeconds} s`);
      throw new FlaggateError('CHANGE_EXPIRED', `change request ${cr.id} expired at ${cr.expiresAt} before it could be applied; request it again`);
    }
    // Read for the change as classified, as at its request: the reach its state added is not the platform's to read.
    const state = await platform.readState(classified);
    if (canonicalJson(state ?? null) === canonicalJson(cr.change.previousState ?? null)) return;
    const stale = new FlaggateError('CHANGE_STALE', `${cr.change.flagKey} changed on ${cr.change.platform} since the change was requested; request it again`, {
      details: { changeRequestId: cr.id },
    });
    await refuseHeld(ctx, cr, approvals, stale, 'stale', { ...cr.change, previousState: state });
  };
  const result = await ctx.resume({
    requester: { ...cr.requester, claims: {} },
    change: cr.change,
    context: cr.context,
    approvals: approvals.map((a) => ({ approverId: a.approverId, roles: a.roles, approvedAt: a.approvedAt, authMethod: a.authMethod })),
    forward,
    link: (entry) => linked(entry, cr, approvals),
    claim: (status) => ctx.store.settle(cr.id, status),
    unchanged,
  });
  switch (result.status) {
    case 'pending':
      return { status: 'pending', approvals };
    case 'refused':
      throw result.error;
    case 'failed': {
      // A request that reached the platform and got no answer (a timeout, a reset) may have been acted on.
      const { details } = result.error;
      await ctx.store.finish(cr.id, details.timedOut === true || details.mayHaveActed === true ? 'unknown' : 'failed').catch(() => undefined); // the ledger's outcome entry says why
      throw result.error;
    }
    case 'forwarded': {
      // As the outcome entry has it (a 2xx applied, a 4xx or 5xx failed unless the platform may
      // have acted before refusing, anything else unknown). The request left `pending` for good.
      const status = result.outcome;
      await ctx.store.finish(cr.id, status);
      return { status, decisionId: result.decisionId, platformStatus: result.reply.status };
    }
  }
}

/** Where a change made through this sidecar is held: its chain and the platform the change was made on. */
function heldHere(ctx: ApprovalsContext, platform: string): HeldBy {
  const here = ctx.sidecar(platform);
  if (!here) throw new TypeError(`a change was held for ${platform}, which this sidecar does not front`);
  return here;
}
