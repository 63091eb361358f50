import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { AuditEntry, StoredRow } from '../audit/entry.js';
import type { VerifyReport } from '../audit/verify.js';
import type { Clock } from '../clock.js';
import { isoUtc } from '../clock.js';
import { asFlaggateError, errorBody, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/actor.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { Decision, PolicyInput, PolicyRevision } from '../policy/decision.js';

export interface ControlDeps {
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  identify(authorization: string | undefined): Promise<Actor>;
  policy: { decide(input: PolicyInput): Decision; readonly revision: PolicyRevision };
  audit: {
    entriesAfter(afterSeq: number, limit: number): AuditEntry[];
    rowsAfter(afterSeq: number, limit: number): StoredRow[];
    head(): { seq: number; hash: string };
    verify(): Promise<VerifyReport>;
  };
  /** Each named check must pass for /readyz to answer 200. */
  readiness(): Promise<Record<string, { ok: boolean; detail?: string }>>;
}

const maxPage = 1000;

/** The control port: flaggate's own API. Audit reads need a decision for `audit.read` (auditors). */
export function createControlApp(deps: ControlDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');

  const authorize = (action: string) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      const actor = await deps.identify(req.headers.authorization);
      const decision = deps.policy.decide({
        actor: { id: actor.id, displayName: actor.displayName, authMethod: actor.authMethod, roles: actor.roles },
        change: { action, platform: 'flaggate' },
        approvals: [],
        context: { links: {}, timeUtc: isoUtc(deps.clock.now()) },
      });
      if (!decision.allow) throw new FlaggateError('CONTROL_FORBIDDEN', decision.reasons.join('; ') || `${action} is not allowed`);
      res.locals.actor = actor;
      next();
    } catch (err) {
      next(err);
    }
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((c) => c.ok);
    res.status(ready ? 200 : 503).json({ ready, checks });
  });

  app.get('/metrics', async (_req, res) => {
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  });

  app.get('/v1/audit/entries', authorize('audit.read'), (req, res) => {
    const after = intParam(req.query.after, 'after', 0);
    const limit = Math.min(intParam(req.query.limit, 'limit', 100), maxPage);
    const entries = deps.audit.entriesAfter(after, limit);
    const last = entries[entries.length - 1];
    res.json({ entries, next_after: entries.length === limit && last ? last.seq : null, head: deps.audit.head() });
  });

  app.get('/v1/audit/verify', authorize('audit.read'), async (_req, res) => {
    const report = await deps.audit.verify();
    res.status(report.ok ? 200 : 409).json(report);
  });

  app.use((req, _res, next) => next(new FlaggateError('CONTROL_NOT_FOUND', `no control route ${req.method} ${req.path}`)));

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = asFlaggateError(err);
    const id = randomUUID();
    if (error.code === 'INTERNAL') deps.logger.error('control port failure', { decisionId: id, error: String(err) });
    deps.metrics.errors.inc({ code: error.code });
    if (error.status === 401) res.setHeader('www-authenticate', 'Bearer');
    res.status(error.status).json(errorBody(error, id));
  });
  return app;
}

function intParam(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new FlaggateError('CONTROL_BAD_REQUEST', `${name} must be a non-negative integer`);
  }
  return Number(value);
}
