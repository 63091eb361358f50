import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { AuditEntry, StoredRow } from '../audit/index.js';
import type { JSONWebKeySet } from 'jose';
import type { Checkpoint } from '../audit/index.js';
import type { ExportFilters } from '../audit/index.js';
import type { CoverageSummary, UpstreamSummary, VerifyReport } from '../audit/index.js';
import type { Clock } from '../clock.js';
import type { ConsoleControl } from '../console/index.js';
import { isoUtc } from '../clock.js';
import { asFlaggateError, errorBody, FlaggateError, type ErrorCode } from '../errors.js';
import type { Actor } from '../identify/index.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { exportArchive, exportSender } from './export-archive.js';
import { policyInput, type Decision, type PolicyInput, type PolicyRevision } from '../policy/index.js';

export interface ControlDeps {
  clock: Clock;
  logger: Logger;
  metrics: Metrics;
  /** When set, `/metrics` needs `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
  identify(authorization: string | undefined): Promise<Actor>;
  policy: { decide(input: PolicyInput): Decision; readonly revision: PolicyRevision };
  audit: {
    entriesAfter(afterSeq: number, limit: number): AuditEntry[];
    rowsAfter(afterSeq: number, limit: number): StoredRow[];
    head(): { seq: number; hash: string };
    /** The checkpoint signing keys (public), newest first. */
    keys(): JSONWebKeySet;
    checkpoints(fromSeq?: number, toSeq?: number): Checkpoint[];
    /** The chain, checkpoints, timestamp coverage and upstream copies, checked now. */
    verify(): Promise<VerifyReport & { timestamps?: CoverageSummary | null; upstream?: readonly UpstreamSummary[] }>;
    /** A page of entries matching the filters, newest first, each with the token that covers it. */
    search: ConsoleControl['audit']['search'];
    /** Writes an export package for a period and filters as a tar.gz under `dir` and resolves with its path; stops when `signal` aborts. */
    exportTo(dir: string, options: { from?: string; to?: string; filters: ExportFilters; signal?: AbortSignal }): Promise<string>;
  };
  /** The embedded RFC 3161 TSA, served to other services when it is the one in use. */
  tsa?: { respond(tsq: Buffer): Promise<Buffer>; certificateChainPem(): string };
  /** `/v1/changes`: held changes and their review, given the route guards. */
  changes?: (authorize: (action: string) => RequestHandler, identified: RequestHandler) => express.Router;
  /** The web console under `/console/`, built from the control port's policy and audit reads. */
  console?: (control: ConsoleControl) => express.Router;
  /** `/v1/drift`: drift findings, checks on demand and acknowledgements, given the route guard. */
  drift?: (authorize: (action: string) => RequestHandler) => express.Router;
  /** `/v1/break-glass`: break-glass changes and their retrospective reviews, given the route guard. */
  breakGlass?: (authorize: (action: string) => RequestHandler) => express.Router;
  /** `/v1/policy/shadow`: the shadow bundle's disagreements with the active one, when one runs. */
  shadow?: () => unknown;
  /** Each named check must pass for /readyz to answer 200. */
  readiness(): Promise<Record<string, { ok: boolean; code?: ErrorCode; detail?: string }>>;
}

const maxPage = 1000;

/** The control port: flaggate's own API. Audit reads need a decision for `audit.read` (auditors). */
export function createControlApp(deps: ControlDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  const authorize = authorizeWith(deps);

  mountProbes(app, deps);
  app.get('/v1/audit/entries', authorize('audit.read'), (req, res) => {
    const after = intParam(req.query.after, 'after', 0);
    const limit = Math.min(intParam(req.query.limit, 'limit', 100), maxPage);
    const entries = deps.audit.entriesAfter(after, limit);
    const last = entries[entries.length - 1];
    res.json({ entries, next_after: entries.length === limit && last ? last.seq : null, head: deps.audit.head() });
  });

  app.get('/v1/policy/shadow', authorize('audit.read'), (_req, res) => {
    if (!deps.shadow) throw new FlaggateError('CONTROL_NOT_FOUND', 'no shadow policy is configured (policy.shadow)');
    res.json(deps.shadow());
  });

  // Public by design: an auditor must be able to fetch the keys without trusting anyone's token.
  app.get('/v1/audit/keys', (_req, res) => {
    res.setHeader('cache-control', 'max-age=60');
    res.json(deps.audit.keys());
  });

  app.get('/v1/audit/checkpoints', authorize('audit.read'), (req, res) => {
    const from = intParam(req.query.from, 'from', 0);
    const to = intParam(req.query.to, 'to', Number.MAX_SAFE_INTEGER);
    res.json({ checkpoints: deps.audit.checkpoints(from, to) });
  });

  if (deps.tsa) mountTsa(app, deps.tsa);
  const sendExport = exportSender(deps);
  app.get('/v1/audit/export', authorize('audit.export'), exportArchive(sendExport));

  app.get('/v1/audit/verify', authorize('audit.read'), async (_req, res) => {
    const report = await deps.audit.verify();
    res.status(report.ok ? 200 : 409).json(report);
  });

  const identified: RequestHandler = async (req, res, next) => {
    try {
      res.locals.actor = await deps.identify(req.headers.authorization);
      next();
    } catch (err) {
      next(err);
    }
  };
  if (deps.changes) app.use('/v1/changes', deps.changes(authorize, identified));
  if (deps.drift) app.use('/v1/drift', deps.drift(authorize));
  if (deps.breakGlass) app.use('/v1/break-glass', deps.breakGlass(authorize));

  if (deps.console) {
    app.use('/console', deps.console({
      decide: (input) => deps.policy.decide(input),
      audit: deps.audit,
      sendExport,
      readiness: deps.readiness,
      policy: deps.policy,
      metrics: deps.metrics,
      ...(deps.shadow ? { shadow: deps.shadow } : {}),
    }));
  }

  app.use((req, _res, next) => next(new FlaggateError('CONTROL_NOT_FOUND', `no control route ${req.method} ${req.path}`)));
  app.use(replyWithError(deps));
  return app;
}

/** Route guard: the caller's token, then a policy decision on `action` for the flaggate platform. */
function authorizeWith(deps: ControlDeps): (action: string) => RequestHandler {
  return (action: string) => async (req: Request, res: Response, next: NextFunction) => {
    try {
      const actor = await deps.identify(req.headers.authorization);
      const decision = deps.policy.decide(policyInput({ actor, change: { action, platform: 'flaggate' }, timeUtc: isoUtc(deps.clock.now()) }));
      if (!decision.allow) throw new FlaggateError('CONTROL_FORBIDDEN', decision.reasons.join('; ') || `${action} is not allowed`);
      res.locals.actor = actor;
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Liveness, readiness and the Prometheus scrape. */
function mountProbes(app: express.Express, deps: ControlDeps): void {
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    const checks = await deps.readiness();
    const ready = Object.values(checks).every((c) => c.ok);
    res.status(ready ? 200 : 503).json({ ready, checks });
  });

  const scrapeToken = deps.metricsToken === undefined ? undefined : digest(deps.metricsToken);
  app.get('/metrics', async (req, res) => {
    if (scrapeToken !== undefined) {
      const presented = /^Bearer (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
      // Compared as digests, in constant time: neither the length nor a prefix of the token leaks.
      if (presented === undefined || !timingSafeEqual(digest(presented), scrapeToken)) {
        throw new FlaggateError('CONTROL_METRICS_TOKEN_INVALID', '/metrics needs the configured bearer token (metrics.bearerToken)');
      }
    }
    res.setHeader('content-type', deps.metrics.registry.contentType);
    res.end(await deps.metrics.registry.metrics());
  });
}

/** The embedded TSA over HTTP, for other services when it is the one in use. */
function mountTsa(app: express.Express, tsa: NonNullable<ControlDeps['tsa']>): void {
  // RFC 3161 §3.4: the query and reply travel as DER with their own media types.
  app.post('/v1/tsa', express.raw({ type: () => true, limit: 8 * 1024 }), async (req, res, next) => {
    try {
      const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/timestamp-query') throw new FlaggateError('CONTROL_BAD_REQUEST', 'expected content-type application/timestamp-query');
      const reply = await tsa.respond(Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0));
      res.setHeader('content-type', 'application/timestamp-reply');
      res.end(reply);
    } catch (err) {
      next(err);
    }
  });
  app.get('/v1/tsa/certs', (_req, res) => {
    res.setHeader('content-type', 'application/pem-certificate-chain');
    res.end(tsa.certificateChainPem());
  });
}

/** Every refusal as `{ code, message, decisionId }`, counted by code. */
function replyWithError(deps: ControlDeps): express.ErrorRequestHandler {
  return (err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = asFlaggateError(err);
    const id = randomUUID();
    if (error.code === 'INTERNAL') deps.logger.error('control port failure', { decisionId: id, error: String(err) });
    deps.metrics.errors.inc({ code: error.code });
    if (error.status === 401) res.setHeader('www-authenticate', 'Bearer');
    res.status(error.status).json(errorBody(error, id));
  };
}

function intParam(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) {
    throw new FlaggateError('CONTROL_BAD_REQUEST', `${name} must be a non-negative integer`);
  }
  return Number(value);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
