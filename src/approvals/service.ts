import { personKey, samePerson } from './person.js';
import { randomUUID } from 'node:crypto';
import type { Recorder } from '../audit/index.js';
import { canonicalJson } from '../audit/index.js';
import { decisionEntry } from '../audit/index.js';
import { isoUtc, type Clock } from '../clock.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import type { Logger } from '../log.js';
import type { ApprovalsHook, HeldWrite, Reply, Resume, Stages } from '../pipeline/index.js';
import type { Platform } from '../platforms/index.js';
import type { Decision } from '../policy/index.js';
import type { VerifyApprovalToken } from './approval-token.js';
import { approvalFacts, linked, stepEntry } from './entries.js';
import { heldHeaders } from './held-headers.js';
import { boundToLedger, type HeldEvidence } from './ledger-bound.js';
import { rederiveHeld } from './rederive.js';
import type { Approval, ChangeRequest, ChangeStatus, ChangeStore, HeldBy } from './store.js';

export interface ApprovalsDeps {
  clock: Clock;
  policy: Stages['policy'];
  /** Re-derives a held request and reads the platform state it was decided against; never forwards. */
  platform: Pick<Platform, 'classify' | 'readState'>;
  /** Review steps and refusals are recorded; approved changes go back to the pipeline (`resume`). */
  record: Pick<Recorder, 'durable' | 'settled'>;
  resume: Resume;
  store: ChangeStore;
  logger: Logger;
  expirySeconds: number;
  verifyApprovalToken: VerifyApprovalToken;
  /** This sidecar's ledger entries of a held change: what a stored row is checked against. */
  evidence: HeldEvidence;
  /** The control port's base URL once it listens, for `approveUrl`. */
  controlUrl(): string | undefined;
  /** This sidecar: its chain and the platform target it forwards to; held changes are bound to it. */
  sidecar: HeldBy;
  /** Other chains whose held changes this sidecar may apply when it fronts the same target (a fleet of replicas). */
  peerChains: readonly string[];
}

/** What applying a held change led to. */
/** `applied`: the platform took the change; `failed`: it answered with an error (the outcome entry has the details). */
export type ApplyResult = { status: 'pending'; approvals: Approval[] } | { status: 'applied' | 'failed'; decisionId: string; platformStatus: number };

type Reviewer = Pick<Actor, 'id' | 'displayName' | 'authMethod' | 'roles'>;

/** The approvals stage: holds changes, records every review step, applies the approved ones. */
export interface Approvals extends ApprovalsHook {
  list(status?: ChangeStatus): Promise<ChangeRequest[]>;
  get(id: string): Promise<{ request: ChangeRequest; approvals: Approval[] }>;
  approve(id: string, approver: Reviewer, reason: string | null): Promise<ApplyResult>;
  reject(id: string, reviewer: Reviewer, reason: string): Promise<void>;
  /** Expires every pending request past its time; each gets a `change.expired` entry. */
  sweep(): Promise<number>;
}


/**
 * Builds the approvals stage. Separation of duties: the requester never approves their own change,
 * each approver counts once, approvers need a role the policy lists for the change (`change.approve`),
 * and the policy is evaluated again with the approvals before anything is forwarded.
 */
export function createApprovals(deps: ApprovalsDeps): Approvals {
  const { store } = deps;
  const s = deps; // clock, policy, platform, record
  const now = () => isoUtc(s.clock.now());
  /** Accepted steps are durable before anything depends on them; refusals are settled without waiting on sinks. */
  const record = (entry: Parameters<Recorder['durable']>[0], accepted: boolean) => (accepted ? s.record.durable(entry) : s.record.settled(entry));

  function decideWith(cr: Pick<ChangeRequest, 'requester' | 'change' | 'context'>, approvals: Approval[]): Decision {
    return s.policy.decide({
      actor: cr.requester,
      change: cr.change,
      approvals: approvals.map((a) => ({ approverId: a.approverId, roles: a.roles, approvedAt: a.approvedAt, authMethod: a.authMethod })),
      context: { ...cr.context, timeUtc: now() },
    });
  }

  /** The policy on `change.approve` for this change's flag and environment. */
  function mayApprove(cr: ChangeRequest, approver: Reviewer): Decision {
    return s.policy.decide({
      actor: approver,
      change: { action: 'change.approve', platform: cr.change.platform, flagKey: cr.change.flagKey, ...(cr.change.environment === undefined ? {} : { environment: cr.change.environment }) },
      approvals: [],
      context: { links: {}, timeUtc: now() },
    });
  }

  async function step(cr: ChangeRequest, type: 'change.approved' | 'change.rejected' | 'change.expired', actor: Reviewer, reason: string | null, refusal?: FlaggateError): Promise<void> {
    const entry = stepEntry(cr, {
      type,
      decisionId: randomUUID(),
      actor,
      accepted: refusal === undefined,
      reasons: refusal ? [refusal.message] : [type === 'change.approved' ? `approved by ${actor.id}` : type === 'change.rejected' ? `rejected by ${actor.id}` : 'expired'],
      errorCode: refusal?.code ?? null,
      reason,
      approvals: await store.approvals(cr.id),
      policy: s.policy.revision,
    });
    await record(entry, refusal === undefined);
  }

  /** A refused review step is recorded, then thrown. */
  async function refuse(cr: ChangeRequest, actor: Reviewer, reason: string | null, error: FlaggateError): Promise<never> {
    await step(cr, 'change.approved', actor, reason, error);
    throw error;
  }

  /** The request, expired first when its time is up. */
  async function current(id: string): Promise<ChangeRequest> {
    const cr = await store.get(id);
    if (!cr) throw new FlaggateError('CHANGE_NOT_FOUND', `no change request ${id}`);
    if (cr.status === 'pending' && cr.expiresAt <= now()) {
      if (await store.settle(cr.id, 'expired')) {
        await step({ ...cr, status: 'expired' }, 'change.expired', cr.requester, `not applied within ${deps.expirySeconds} s`);
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
  function heldElsewhere(cr: ChangeRequest): FlaggateError | undefined {
    const here = deps.sidecar;
    const by = cr.heldBy;
    const refuse = (why: string, reason: string) =>
      new FlaggateError('CHANGE_HELD_ELSEWHERE', `change request ${cr.id} ${why}; approve it through the sidecar that held it`, {
        details: { reason, heldBy: by, here: { chainId: here.chainId, platform: here.platform } },
      });
    if (by === null) return refuse('does not say which sidecar held it', 'unbound');
    if (by.platform !== here.platform || by.targetSha256 !== here.targetSha256) return refuse(`was held for another platform target (${by.platform})`, 'target');
    if (by.chainId !== here.chainId && !deps.peerChains.includes(by.chainId)) return refuse(`was held by chain ${by.chainId}, not a peer of this sidecar`, 'chain');
    return undefined;
  }

  /** A pending request as its ledger entries prove it (requester, context, change); CHANGE_TAMPERED otherwise. */
  async function pending(id: string, reviewer: Reviewer, reason: string | null): Promise<ChangeRequest> {
    const cr = await current(id);
    if (cr.status === 'expired') throw new FlaggateError('CHANGE_EXPIRED', `change request ${id} expired at ${cr.expiresAt}; request it again`);
    if (cr.status !== 'pending') throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${id} is ${cr.status}`, { details: { status: cr.status } });
    try {
      const entries = await deps.evidence(cr.id);
      const bound = boundToLedger(cr, [], entries).request;
      // The chain a row says held it is the chain its change.requested entry is in.
      const requestedIn = entries.find((e) => e.entry_type === 'change.requested')?.chain_id;
      if (bound.heldBy !== null && bound.heldBy.chainId !== requestedIn) {
        throw new FlaggateError('CHANGE_TAMPERED', `change request ${cr.id} is refused: its row names another chain than its change.requested entry`, {
          details: { changeRequestId: cr.id },
        });
      }
      return bound;
    } catch (err) {
      if (asFlaggateError(err).code === 'CHANGE_TAMPERED') await store.settle(cr.id, 'denied');
      return refuse(cr, reviewer, reason, asFlaggateError(err));
    }
  }

  async function hold(h: HeldWrite, approvals: Approval[]): Promise<Reply> {
    const id = randomUUID();
    const created = s.clock.now();
    const cr: ChangeRequest = {
      id,
      decisionId: h.decisionId,
      status: 'pending',
      createdAt: isoUtc(created),
      expiresAt: isoUtc(created + deps.expirySeconds * 1000),
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
      heldBy: { ...deps.sidecar },
    };
    const requested = decisionEntry({ decisionId: h.decisionId, actor: h.actor, change: h.change, context: h.context, decision: h.decision });
    await record(
      { ...requested, entry_type: 'change.requested', change_request_id: id, approval: approvalFacts(cr, approvals, null), decision: { ...requested.decision, error_code: null } },
      true,
    );
    await store.insert(cr);
    for (const a of approvals) await store.addApproval(id, a);
    const base = deps.controlUrl() ?? '';
    const body = {
      changeRequestId: id,
      status: 'pending',
      approveUrl: `${base}/v1/changes/${id}/approve`,
      expiresAt: cr.expiresAt,
      requiredApprovals: cr.requiredApprovals,
      approverRoles: cr.approverRoles,
      reasons: h.decision.reasons,
    };
    return { status: 202, headers: { 'content-type': 'application/json; charset=utf-8', location: `/v1/changes/${id}` }, body: Buffer.from(JSON.stringify(body)) };
  }

  /** A refusal of a held change, before it goes back to the pipeline: settled once, recorded once. */
  async function refuseHeld(cr: ChangeRequest, approvals: Approval[], error: FlaggateError, status: 'denied' | 'stale', change = cr.change): Promise<never> {
    if (await store.settle(cr.id, status)) {
      const decision = { refused: { code: error.code, message: error.message }, policy: s.policy.revision };
      await record(linked(decisionEntry({ decisionId: randomUUID(), actor: { ...cr.requester, claims: {} }, change, context: cr.context, decision }), cr, approvals), false);
    }
    throw error;
  }

  /**
   * With its approvals: proven from the ledger, the stored request classified again, the platform
   * state it was decided against checked again; then back to the pipeline, which decides with the
   * approvals and records, timestamps, replicates and forwards.
   */
  async function apply(cr: ChangeRequest): Promise<ApplyResult> {
    const elsewhere = heldElsewhere(cr);
    if (elsewhere) throw elsewhere;
    let approvals: Approval[];
    let forward;
    try {
      ({ approvals } = boundToLedger(cr, await store.approvals(cr.id), await deps.evidence(cr.id)));
      forward = rederiveHeld(cr, s.platform);
    } catch (err) {
      return refuseHeld(cr, [], asFlaggateError(err), 'denied');
    }
    const state = await s.platform.readState(cr.change);
    if (canonicalJson(state ?? null) !== canonicalJson(cr.change.previousState ?? null)) {
      const stale = new FlaggateError('CHANGE_STALE', `${cr.change.flagKey} changed on ${cr.change.platform} since the change was requested; request it again`, {
        details: { changeRequestId: cr.id },
      });
      return refuseHeld(cr, approvals, stale, 'stale', { ...cr.change, previousState: state });
    }
    const result = await deps.resume({
      requester: { ...cr.requester, claims: {} },
      change: cr.change,
      context: cr.context,
      approvals: approvals.map((a) => ({ approverId: a.approverId, roles: a.roles, approvedAt: a.approvedAt, authMethod: a.authMethod })),
      forward,
      link: (entry) => linked(entry, cr, approvals),
      claim: (status) => store.settle(cr.id, status),
    });
    switch (result.status) {
      case 'pending':
        return { status: 'pending', approvals };
      case 'refused':
        throw result.error;
      case 'failed':
        await store.finish(cr.id, 'failed').catch(() => undefined); // the ledger's outcome entry says why
        throw result.error;
      case 'forwarded': {
        const status = result.reply.status < 400 ? 'applied' : 'failed';
        // The request left `pending` for good; whether the platform took it is the outcome entry's to say.
        await store.finish(cr.id, status);
        return { status, decisionId: result.decisionId, platformStatus: result.reply.status };
      }
    }
  }

  return {
    async review(h) {
      const token = h.req.headers['x-flaggate-approval'];
      if (token === undefined) return { held: await hold(h, []) };
      const claims = await deps.verifyApprovalToken(token.trim(), {
        method: h.req.method,
        path: h.req.path,
        bodySha256: h.req.bodySha256,
        requesterId: h.actor.id,
        ticket: h.context.ticket,
      });
      if (samePerson(claims.approval.approverId, h.actor.id)) throw new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change');
      if (!(await store.spendJti(claims.issuer, claims.jti, h.req.bodySha256, isoUtc(s.clock.now())))) {
        throw new FlaggateError('APPROVAL_TOKEN_REPLAYED', 'this approval token was already used', { details: { jti: claims.jti } });
      }
      const approvals = [claims.approval];
      const decision = decideWith({ requester: h.actor, change: h.change, context: h.context }, approvals);
      if (decision.holdForApprovals) return { held: await hold(h, approvals) };
      return { decision, decorate: (entry) => ({ ...entry, approval: approvalFacts(decision, approvals, claims.approval.proof) }) };
    },

    list(status) {
      return store.list(status);
    },

    async get(id) {
      const request = await current(id);
      return { request, approvals: await store.approvals(id) };
    },

    async approve(id, approver, reason) {
      const cr = await pending(id, approver, reason);
      // Before anything is counted: an approval given here could only be applied here.
      const elsewhere = heldElsewhere(cr);
      if (elsewhere) await refuse(cr, approver, reason, elsewhere);
      if (samePerson(approver.id, cr.requester.id)) {
        await refuse(cr, approver, reason, new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change'));
      }
      const may = mayApprove(cr, approver);
      if (!may.allow) await refuse(cr, approver, reason, new FlaggateError('APPROVAL_ROLE_MISSING', may.reasons.join('; '), { details: { approverRoles: cr.approverRoles } }));
      // Stored by person key, so the store's uniqueness also catches the same person in another case.
      const approval: Approval = { approverId: personKey(approver.id), roles: [...approver.roles], authMethod: approver.authMethod, approvedAt: now(), reason, proof: null };
      if (!(await store.addApproval(cr.id, approval))) {
        await refuse(cr, approver, reason, new FlaggateError('APPROVAL_DUPLICATE', `${approver.id} already approved this change; each approver counts once`));
      }
      await step(cr, 'change.approved', approver, reason);
      return apply(cr);
    },

    async reject(id, reviewer, reason) {
      const cr = await pending(id, reviewer, reason);
      // The requester may withdraw their own change; anyone else needs a role that could approve it.
      const may = samePerson(reviewer.id, cr.requester.id) ? undefined : mayApprove(cr, reviewer);
      if (may && !may.allow) {
        const error = new FlaggateError('APPROVAL_ROLE_MISSING', may.reasons.join('; '), { details: { approverRoles: cr.approverRoles } });
        await step(cr, 'change.rejected', reviewer, reason, error);
        throw error;
      }
      if (!(await store.settle(cr.id, 'rejected'))) throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${id} is no longer pending`);
      await step({ ...cr, status: 'rejected' }, 'change.rejected', reviewer, reason);
    },

    async sweep() {
      let expired = 0;
      for (const cr of await store.list('pending')) if ((await current(cr.id)).status === 'expired') expired++;
      return expired;
    },
  };
}
