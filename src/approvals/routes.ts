import express, { type RequestHandler, type Response } from 'express';
import { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { isPrintableLine, MAX_REASON } from '../recorded-text.js';
import { affectedObject } from './diff.js';
import { heldHeaders } from './held-headers.js';
import type { Approvals } from './service.js';
import type { ChangeRequest, ChangeStatus } from './store.js';

const STATUSES: readonly ChangeStatus[] = ['pending', 'applying', 'applied', 'failed', 'unknown', 'rejected', 'expired', 'stale', 'denied'];
const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `/v1/changes` on the control port: list and show held changes (`change.read`), approve and reject
 * them (any identified caller; the approvals stage checks who may). Bodies are `{ "reason": "…" }`.
 */
export function changeRoutes(approvals: Approvals, authorize: (action: string) => RequestHandler, identified: RequestHandler): express.Router {
  const router = express.Router();
  const json = express.json({ limit: 16 * 1024, type: () => true });

  router.get('/', authorize('change.read'), async (req, res) => {
    const status = req.query.status;
    if (status !== undefined && !STATUSES.includes(status as ChangeStatus)) {
      throw new FlaggateError('CONTROL_BAD_REQUEST', `status must be one of ${STATUSES.join(', ')}`);
    }
    await approvals.sweep();
    res.json({ changes: (await approvals.list(status as ChangeStatus | undefined)).map(summary) });
  });

  router.get('/:id', authorize('change.read'), async (req, res) => {
    const { request, approvals: given } = await approvals.get(idParam(req.params.id));
    const { kind, pointer, before, after, diff, segments } = affectedObject(request.change);
    res.json({
      ...summary(request),
      // Filtered again: rows stored by earlier versions kept more headers.
      headers: heldHeaders(request.headers),
      // What the change touches (the strategy, the environment's fields, the flag), not the whole flag.
      object: { kind, pointer },
      before,
      after,
      diff,
      ...(segments ? { segments } : {}),
      approvals: given,
    });
  });

  router.post('/:id/approve', identified, json, async (req, res) => {
    const result = await approvals.approve(idParam(req.params.id), actorOf(res), reasonOf(req.body, false));
    res.status(result.status === 'pending' ? 202 : result.status === 'applied' ? 200 : 502).json(result);
  });

  router.post('/:id/reject', identified, json, async (req, res) => {
    await approvals.reject(idParam(req.params.id), actorOf(res), reasonOf(req.body, true)!);
    res.json({ status: 'rejected' });
  });
  return router;
}

function summary(cr: ChangeRequest) {
  return {
    id: cr.id,
    status: cr.status,
    decisionId: cr.decisionId,
    createdAt: cr.createdAt,
    expiresAt: cr.expiresAt,
    requester: cr.requester,
    action: cr.change.action,
    platform: cr.change.platform,
    flagKey: cr.change.flagKey,
    environment: cr.change.environment ?? null,
    request: { method: cr.method, path: cr.path, bodySha256: cr.bodySha256 },
    reason: cr.context.reason ?? null,
    ticket: cr.context.ticket ?? null,
    requiredApprovals: cr.requiredApprovals,
    approverRoles: cr.approverRoles,
    heldBy: cr.heldBy,
  };
}

function idParam(value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new FlaggateError('CHANGE_NOT_FOUND', 'no such change request');
  return value;
}

function actorOf(res: Response): Actor {
  return res.locals.actor as Actor;
}

function reasonOf(body: unknown, required: boolean): string | null {
  const reason = typeof body === 'object' && body !== null ? (body as Record<string, unknown>).reason : undefined;
  if (reason === undefined || reason === null || reason === '') {
    if (required) throw new FlaggateError('CONTROL_BAD_REQUEST', 'a reason is required');
    return null;
  }
  if (!isPrintableLine(reason, MAX_REASON)) {
    throw new FlaggateError('CONTROL_BAD_REQUEST', `reason must be printable text of at most ${MAX_REASON} characters`);
  }
  return reason;
}
