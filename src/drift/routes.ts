import express, { type RequestHandler, type Response } from 'express';
import { entryActor } from '../audit/index.js';
import { FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { isPrintableLine, MAX_REASON, MAX_TICKET } from '../recorded-text.js';
import type { DriftStatus, DriftWatcher } from './watcher.js';

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * `/v1/drift` on the control port: the findings and their acknowledgements (`drift.read`), a check
 * now (`drift.check`), and an acknowledgement with a reason (`drift.acknowledge`); the policy names
 * the roles allowed each.
 */
export function driftRoutes(
  watcher: DriftWatcher,
  authorize: (action: string) => RequestHandler,
  policyRevision: () => { revision: string; sha256: string } | null,
): express.Router {
  const router = express.Router();
  const json = express.json({ limit: 16 * 1024, type: () => true });

  router.get('/', authorize('drift.read'), (req, res) => {
    const open = req.query.open === 'true';
    res.json({ findings: watcher.findings().filter((s) => !open || s.acknowledged === null).map(summary) });
  });

  router.post('/check', authorize('drift.check'), async (_req, res) => {
    const found = await watcher.checkNow();
    res.json({ detected: found.map((e) => summary({ detected: e, acknowledged: null })) });
  });

  router.post('/:id/acknowledge', authorize('drift.acknowledge'), json, async (req, res) => {
    const id = req.params.id;
    if (typeof id !== 'string' || !ID.test(id)) throw new FlaggateError('DRIFT_NOT_FOUND', 'a drift finding id is the event_id of its drift.detected entry');
    const body: unknown = req.body;
    const reason = typeof body === 'object' && body !== null ? (body as { reason?: unknown }).reason : undefined;
    const ticket = typeof body === 'object' && body !== null ? (body as { ticket?: unknown }).ticket : undefined;
    // Printable text, as every other reason and ticket the control port records.
    if (!isPrintableLine(reason, MAX_REASON) || reason.trim() === '') {
      throw new FlaggateError('CONTROL_BAD_REQUEST', `an acknowledgement needs a reason: {"reason": "…"} (printable text of at most ${MAX_REASON} characters)`);
    }
    if (ticket !== undefined && !isPrintableLine(ticket, MAX_TICKET)) {
      throw new FlaggateError('CONTROL_BAD_REQUEST', `ticket must be printable text of at most ${MAX_TICKET} characters`);
    }
    const entry = await watcher.acknowledge(id, { actor: entryActor(actorOf(res)), reason, ticket: ticket ?? null, policy: policyRevision() });
    res.status(201).json({ acknowledged: id, entry: { seq: entry.seq, event_id: entry.event_id, actor: entry.actor.id, reason: entry.reason } });
  });
  return router;
}

function summary(s: DriftStatus) {
  const d = s.detected;
  return {
    id: d.event_id,
    seq: d.seq,
    detected_at: d.timestamp_utc,
    platform: d.platform,
    project: d.project,
    flag_key: d.flag_key,
    source: d.drift?.source ?? null,
    platform_event_id: d.drift?.platform_event_id ?? null,
    platform_actor: d.drift?.platform_actor ?? null,
    platform_time: d.drift?.platform_time ?? null,
    before: d.previous_state,
    after: d.new_state,
    detail: d.decision.reasons[0] ?? null,
    acknowledged: s.acknowledged && { seq: s.acknowledged.seq, at: s.acknowledged.timestamp_utc, by: s.acknowledged.actor.id, reason: s.acknowledged.reason },
  };
}

function actorOf(res: Response): Actor {
  return res.locals.actor as Actor;
}
