import { personKey, samePerson } from './person.js';
import { randomUUID } from 'node:crypto';
import type { AuditEntry, NewEntry } from '../audit/entry.js';
import { canonicalJson } from '../audit/canonical.js';
import { decisionEntry } from '../audit/new-entry.js';
import { isoUtc } from '../clock.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/actor.js';
import type { Logger } from '../log.js';
import { awaitsApprovals, denied, forwardDecided, replicateRefusal, type ApprovalsHook, type HeldWrite, type Reply, type Stages } from '../pipeline.js';
import type { Decision } from '../policy/decision.js';
import type { VerifyApprovalToken } from './approval-token.js';
import { approvalFacts, linked, stepEntry } from './entries.js';
import { boundToLedger, type HeldEvidence } from './ledger-bound.js';
import { rederiveHeld } from './rederive.js';
import type { Approval, ChangeRequest, ChangeStatus, ChangeStore } from './store.js';

export interface ApprovalsDeps {
  stages: Stages;
  store: ChangeStore;
  logger: Logger;
  expirySeconds: number;
  verifyApprovalToken: VerifyApprovalToken;
  /** This sidecar's ledger entries of a held change: what a stored row is checked against. */
  evidence: HeldEvidence;
  /** The control port's base URL once it listens, for `approveUrl`. */
  controlUrl(): string | undefined;
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

// Never stored: the client's credentials and the single-use approval token.
const UNSTORED = new Set(['authorization', 'proxy-authorization', 'cookie', 'x-flaggate-approval']);

/**
 * Builds the approvals stage. Separation of duties: the requester never approves their own change,
 * each approver counts once, approvers need a role the policy lists for the change (`change.approve`),
 * and the policy is evaluated again with the approvals before anything is forwarded.
 */
export function createApprovals(deps: ApprovalsDeps): Approvals {
  const { stages: s, store } = deps;
  const now = () => isoUtc(s.clock.now());

  async function record(entry: NewEntry, sync: boolean): Promise<AuditEntry> {
    const appended = await s.record.append(entry);
    if (!sync) {
      await replicateRefusal(s, appended, deps.logger);
      return appended;
    }
    await s.timestamp.cover(appended.seq, appended.hash);
    await s.replicate.through(appended.seq);
    return appended;
  }

  function decideWith(cr: Pick<ChangeRequest, 'requester' | 'change' | 'context'>, approvals: Approval[]): Decision {
    return s.policy.decide({
      actor: cr.requester,
      change: cr.change,
      approvals: approvals.map((a) => ({ approverId: a.approverId, roles: a.roles, approvedAt: a.approvedAt })),
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

  /** A pending request as its ledger entries prove it (requester, context, change); CHANGE_TAMPERED otherwise. */
  async function pending(id: string, reviewer: Reviewer, reason: string | null): Promise<ChangeRequest> {
    const cr = await current(id);
    if (cr.status === 'expired') throw new FlaggateError('CHANGE_EXPIRED', `change request ${id} expired at ${cr.expiresAt}; request it again`);
    if (cr.status !== 'pending') throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${id} is ${cr.status}`, { details: { status: cr.status } });
    try {
      return boundToLedger(cr, [], await deps.evidence(cr.id)).request;
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
      headers: Object.fromEntries(Object.entries(h.req.headers).filter(([name]) => !UNSTORED.has(name))),
      body: Buffer.from(h.req.body),
      bodySha256: h.req.bodySha256,
      change: h.change,
      context: h.context,
      requiredApprovals: h.decision.requiredApprovals,
      approverRoles: h.decision.approverRoles,
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

  /** With enough approvals: policy again, platform state again, then the stored request exactly. */
  async function apply(cr: ChangeRequest): Promise<ApplyResult> {
    let approvals: Approval[];
    try {
      ({ approvals } = boundToLedger(cr, await store.approvals(cr.id), await deps.evidence(cr.id)));
    } catch (err) {
      const error = asFlaggateError(err);
      if (await store.settle(cr.id, 'denied')) {
        const refusal = decisionEntry({ decisionId: randomUUID(), actor: { ...cr.requester, claims: {} }, change: cr.change, context: cr.context, decision: { refused: { code: error.code, message: error.message }, policy: s.policy.revision } });
        await record(linked(refusal, cr, []), false);
      }
      throw error;
    }
    const decision = decideWith(cr, approvals);
    if (awaitsApprovals(decision)) return { status: 'pending', approvals };
    const decisionId = randomUUID();
    const entryFor = (d: Decision | { refused: { code: string; message: string }; policy: typeof s.policy.revision }, change = cr.change) =>
      linked(decisionEntry({ decisionId, actor: { ...cr.requester, claims: {} }, change, context: cr.context, decision: d }), cr, approvals);

    if (!decision.allow) {
      if (await store.settle(cr.id, 'denied')) await record(entryFor(decision), false);
      throw denied(decision);
    }
    let forward;
    try {
      forward = rederiveHeld(cr, s.adapter);
    } catch (err) {
      const error = asFlaggateError(err);
      if (await store.settle(cr.id, 'denied')) await record(entryFor({ refused: { code: error.code, message: error.message }, policy: decision.policy }), false);
      throw error;
    }
    const state = await s.adapter.readState(cr.change);
    if (canonicalJson(state ?? null) !== canonicalJson(cr.change.previousState ?? null)) {
      const stale = new FlaggateError('CHANGE_STALE', `${cr.change.flagKey} changed on ${cr.change.platform} since the change was requested; request it again`, {
        details: { changeRequestId: cr.id },
      });
      if (await store.settle(cr.id, 'stale')) await record(entryFor({ refused: { code: stale.code, message: stale.message }, policy: decision.policy }, { ...cr.change, previousState: state }), false);
      throw stale;
    }
    // Only one caller moves the request out of pending, so it is forwarded at most once.
    if (!(await store.settle(cr.id, 'applying'))) throw new FlaggateError('CHANGE_NOT_PENDING', `change request ${cr.id} is no longer pending`);
    const log = deps.logger.child({ decisionId, changeRequestId: cr.id });
    let reply: Awaited<ReturnType<typeof forwardDecided>>;
    try {
      const entry = await s.record.append(entryFor(decision));
      reply = await forwardDecided(forward, cr.change, entry, s, log);
    } catch (err) {
      await store.finish(cr.id, 'failed').catch(() => undefined); // the ledger's outcome entry says why
      throw err;
    }
    await store.finish(cr.id, reply.status < 400 ? 'applied' : 'failed');
    // The request left `pending` for good; whether the platform took it is the outcome entry's to say.
    return { status: reply.status < 400 ? 'applied' : 'failed', decisionId, platformStatus: reply.status };
  }

  return {
    async review(h) {
      const token = h.req.headers['x-flaggate-approval'];
      if (token === undefined) return { held: await hold(h, []) };
      const claims = await deps.verifyApprovalToken(token.trim(), { method: h.req.method, path: h.req.path, bodySha256: h.req.bodySha256 });
      if (samePerson(claims.approval.approverId, h.actor.id)) throw new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change');
      if (!(await store.spendJti(claims.issuer, claims.jti, h.req.bodySha256, isoUtc(s.clock.now())))) {
        throw new FlaggateError('APPROVAL_TOKEN_REPLAYED', 'this approval token was already used', { details: { jti: claims.jti } });
      }
      const approvals = [claims.approval];
      const decision = decideWith({ requester: h.actor, change: h.change, context: h.context }, approvals);
      if (awaitsApprovals(decision)) return { held: await hold(h, approvals) };
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
      if (samePerson(approver.id, cr.requester.id)) {
        await refuse(cr, approver, reason, new FlaggateError('APPROVAL_SELF', 'the requester cannot approve their own change'));
      }
      const may = mayApprove(cr, approver);
      if (!may.allow) await refuse(cr, approver, reason, new FlaggateError('APPROVAL_ROLE_MISSING', may.reasons.join('; '), { details: { approverRoles: cr.approverRoles } }));
      // Stored by person key, so the store's uniqueness also catches the same person in another case.
      const approval: Approval = { approverId: personKey(approver.id), roles: [...approver.roles], approvedAt: now(), reason, proof: null };
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
