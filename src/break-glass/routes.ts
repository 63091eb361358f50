import express, { type RequestHandler } from 'express';
import { entryActor } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { isPrintableLine, MAX_REASON, MAX_TICKET } from '../recorded-text.js';
import type { BreakGlassReviews, BreakGlassStatus } from './reviews.js';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `/v1/break-glass` on the control port: break-glass changes and their reviews (`break_glass.read`),
 * and the retrospective review by a second person (`break_glass.review`); the policy names the roles.
 */
export function breakGlassRoutes(reviews: BreakGlassReviews, authorize: (action: string) => RequestHandler, policyRevision: () => { revision: string; sha256: string } | null): express.Router {
  const router = express.Router();
  const json = express.json({ limit: 16 * 1024, type: () => true });

  router.get('/', authorize('break_glass.read'), (req, res) => {
    const open = req.query.open === 'true';
    res.json({ changes: reviews.list().filter((s) => !open || s.review === null).map(breakGlassSummary) });
  });

  router.post('/:id/review', authorize('break_glass.review'), json, async (req, res) => {
    const id = req.params.id;
    if (typeof id !== 'string' || !ID.test(id)) throw new FlaggateError('BREAK_GLASS_NOT_FOUND', 'a break-glass change is named by its decision id');
    const body: unknown = req.body;
    const field = (name: string) => (typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[name] : undefined);
    const reason = field('reason');
    const ticket = field('ticket');
    if (!isPrintableLine(reason, MAX_REASON) || reason.trim() === '') {
      throw new FlaggateError('CONTROL_BAD_REQUEST', `a review needs a reason: {"reason": "…"} (printable, at most ${MAX_REASON} characters)`);
    }
    // Printable text, as every other ticket the control port records; a blank one is none.
    if (ticket !== undefined && !isPrintableLine(ticket, MAX_TICKET)) {
      throw new FlaggateError('CONTROL_BAD_REQUEST', `ticket must be printable text of at most ${MAX_TICKET} characters`);
    }
    const linked = ticket === undefined || ticket.trim() === '' ? null : ticket.trim();
    const entry = await reviews.review(id, { actor: entryActor(res.locals.actor as Actor), reason: reason.trim(), ticket: linked, policy: policyRevision() });
    res.status(201).json({ reviewed: id, entry: { seq: entry.seq, event_id: entry.event_id, actor: entry.actor.id, overdue: entry.break_glass?.overdue ?? false } });
  });
  return router;
}

/** One break-glass change as the API and the console show it. */
export function breakGlassSummary(s: BreakGlassStatus) {
  const d = s.decision;
  return {
    id: d.decision_id,
    seq: d.seq,
    at: d.timestamp_utc,
    requester: d.actor.id,
    platform: d.platform,
    flag_key: d.flag_key,
    environment: d.environment,
    action: d.action,
    emergency: d.break_glass?.reason ?? null,
    reason: d.reason,
    ticket: d.linked_artifacts.ticket,
    outcome: s.outcome?.outcome?.status ?? null,
    review_due_at: d.break_glass?.review_due_at ?? null,
    overdue: s.overdue,
    review: s.review && { seq: s.review.seq, at: s.review.timestamp_utc, by: s.review.actor.id, reason: s.review.reason, late: s.review.break_glass?.overdue ?? false },
  };
}

export type BreakGlassSummary = ReturnType<typeof breakGlassSummary>;

