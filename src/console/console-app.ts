import express, { type NextFunction, type Request, type Response } from 'express';
import { affectedObject, samePerson, type Approvals } from '../approvals/index.js';
import type { AuditEntry, Checkpoint, ExportFilters } from '../audit/index.js';
import type { JSONWebKeySet } from 'jose';
import { breakGlassSummary, type BreakGlassReviews } from '../break-glass/index.js';
import { isoUtc, type Clock } from '../clock.js';
import type { Config } from '../config/index.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { mintDevToken } from '../identify/index.js';
import type { Logger } from '../log.js';
import { policyInput, type Decision, type PolicyInput } from '../policy/index.js';
import { isPrintableLine, MAX_REASON } from '../recorded-text.js';
import { checkForm, clearCookie, readCookie, securityHeaders, setCookie, SESSION_COOKIE, SIGN_IN_COOKIE } from './guard.js';
import { LOCAL_TIME_SCRIPT, page, STYLESHEET } from './html.js';
import { createOidcSignIn } from './oidc.js';
import { breakGlassBody, changeBody, errorBody, homeBody, signInBody } from './pages.js';
import { createVerificationCache, mountAudit, type ConsoleAuditSearch } from './audit-routes.js';
import type { LocalVerifyReport } from './audit-pages.js';
import { mountFleet, type ConsoleFleet, type DriftFindings, type FleetConfig } from './fleet.js';
import { createSessionStore, type Session } from './sessions.js';

/** Sends one export package (a period, `to` exclusive, and the package filters) as a download. */
export type SendExport = (res: Response, query: { from?: string; to?: string; filters: ExportFilters }) => Promise<void>;

/** What the control port hands the console: its policy decision, its audit reads and export, its fleet facts. */
export interface ConsoleControl extends ConsoleFleet {
  decide(input: PolicyInput): Decision;
  audit: ConsoleAuditSearch & {
    verify(): Promise<LocalVerifyReport>;
    entriesAfter(afterSeq: number, limit: number): AuditEntry[];
    head(): { seq: number };
    checkpoints(fromSeq?: number, toSeq?: number): Checkpoint[];
    keys(): JSONWebKeySet;
  };
  /** Sends the export package for a period and filters as a download (the code behind /v1/audit/export). */
  sendExport: SendExport;
}

export interface ConsoleDeps extends ConsoleControl {
  clock: Clock;
  logger: Logger;
  config: Pick<Config, 'dataDir' | 'identity' | 'console'> & FleetConfig;
  /** Drift findings, on a platform that has a drift probe. */
  drift?: DriftFindings;
  /** The proxy's identify stage: a development sign-in is verified exactly like a bearer token. */
  identify(authorization: string | undefined): Promise<Actor>;
  approvals: Pick<Approvals, 'list' | 'get' | 'approve' | 'reject'>;
  /** Break-glass changes and their reviews, listed for whoever may read them. */
  breakGlass?: Pick<BreakGlassReviews, 'list'>;
  /** The control port's base URL once it listens. */
  controlUrl(): string | undefined;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NAME = /^[\p{L}\p{N}][\p{L}\p{N} ._@-]{0,63}$/u;
const ROLE = /^[A-Za-z0-9_.:-]{1,64}$/;

export type ConsoleContext = ReturnType<typeof createContext>;

/** What every console route shares: sessions, sign-in, rendering, policy checks. */
function createContext(deps: ConsoleDeps) {
  const { clock, config } = deps;
  const sessions = createSessionStore(clock, { idleSeconds: config.console.sessionIdleSeconds, maxSeconds: config.console.sessionMaxSeconds });
  const oidc = config.console.oidc ? createOidcSignIn(config.console.oidc, config.identity, clock) : undefined;
  const signInKind: 'oidc' | 'development' | 'none' = oidc ? 'oidc' : config.identity.devIssuer ? 'development' : 'none';
  const development = signInKind === 'development';
  const form = express.urlencoded({ extended: false, limit: 16 * 1024, parameterLimit: 20 });
  const verification = createVerificationCache(() => deps.audit.verify(), () => clock.now());

  const base = () => (config.console.publicUrl ?? deps.controlUrl() ?? '').replace(/\/+$/, '');
  // Behind a TLS proxy the configured public origin is what browsers send; otherwise the Host they reached.
  const originOf = (req: Request) => (config.console.publicUrl ? new URL(config.console.publicUrl).origin : `http://${req.headers.host ?? ''}`);

  const render = (res: Response, status: number, title: string, body: string, session?: Session) => {
    const signedIn = session ? { name: session.actor.displayName, id: session.actor.id, roles: session.actor.roles, csrf: session.csrf } : undefined;
    res.status(status).type('html').send(page({ title, body, development, ...(signedIn ? { signedIn } : {}) }));
  };

  const decideFor = (actor: Actor, change: PolicyInput['change']) =>
    deps.decide(policyInput({ actor, change, timeUtc: isoUtc(clock.now()) }));

  const signedIn = (action: string | null) => (req: Request, res: Response, next: NextFunction) => {
    const found = sessions.find(readCookie(req, SESSION_COOKIE));
    if (found === undefined || found === 'expired') {
      if (found === 'expired') clearCookie(res, SESSION_COOKIE);
      res.redirect(303, found === 'expired' ? '/console/sign-in?expired=1' : '/console/sign-in');
      return;
    }
    res.locals.session = found;
    if (action === null) return next();
    const decision = decideFor(found.actor, { action, platform: 'flaggate' });
    if (!decision.allow) throw new FlaggateError('CONTROL_FORBIDDEN', decision.reasons.join('; ') || `${action} is not allowed`);
    next();
  };
  const sessionOf = (res: Response) => res.locals.session as Session;

  function startSession(req: Request, res: Response, actor: Actor): void {
    // A new sign-in ends the browser's earlier session, on the server too: its id may have leaked.
    sessions.destroy(readCookie(req, SESSION_COOKIE));
    const { id } = sessions.create(actor);
    setCookie(res, SESSION_COOKIE, id, config.console.sessionMaxSeconds);
  }

  async function showChange(res: Response, status: number, id: string, extra: { error?: { code: string; message: string }; done?: string }): Promise<void> {
    const session = sessionOf(res);
    const { request, approvals } = await deps.approvals.get(id);
    const cannotApprove: string[] = [];
    if (samePerson(session.actor.id, request.requester.id)) cannotApprove.push('This is your own change: you requested it, so you cannot approve it; someone else must.');
    else {
      const may = decideFor(session.actor, { action: 'change.approve', platform: request.change.platform, flagKey: request.change.flagKey, ...(request.change.environment === undefined ? {} : { environment: request.change.environment }) });
      if (!may.allow) cannotApprove.push(`Your roles (${session.actor.roles.join(', ')}) cannot approve this change: ${may.reasons.join('; ')}`);
    }
    render(res, status, `Change to ${request.change.flagKey}`, changeBody({ request, approvals, object: affectedObject(request.change), csrf: session.csrf, cannotApprove, ...extra }), session);
  }

  return { deps, clock, config, sessions, oidc, signInKind, development, form, verification, base, originOf, render, decideFor, signedIn, sessionOf, startSession, showChange };
}

/** Signing in (development form or OpenID Connect) and out. */
function mountSignIn(router: express.Router, ctx: ConsoleContext): void {
  const { deps, clock, config, sessions, oidc, signInKind, form, base, originOf, render, startSession } = ctx;
  router.get('/sign-in', (req, res) => {
    const message = req.query.expired === '1' ? 'Your session ended; sign in again.' : undefined;
    let csrf: string | undefined;
    if (signInKind === 'development') {
      const { id, pending } = sessions.startSignIn();
      setCookie(res, SIGN_IN_COOKIE, id, 600);
      csrf = pending.csrf;
    }
    render(res, signInKind === 'none' ? 503 : 200, 'Sign in', signInBody({ kind: signInKind, ...(csrf ? { csrf } : {}), ...(message ? { message } : {}) }));
  });

  router.post('/sign-in', form, async (req, res) => {
    if (signInKind !== 'development') throw new FlaggateError('CONTROL_NOT_FOUND', 'the development sign-in is off');
    const cookie = readCookie(req, SIGN_IN_COOKIE);
    checkForm(req, originOf(req), sessions.peekSignIn(cookie)?.csrf);
    sessions.takeSignIn(cookie);
    const body = req.body as Record<string, unknown>;
    const name = typeof body.name === 'string' ? body.name.trim() : '';
    const roles = typeof body.role === 'string' ? body.role.split(/[\s,]+/).filter((r) => r !== '') : [];
    if (!NAME.test(name)) throw new FlaggateError('CONTROL_BAD_REQUEST', 'Name must be 1 to 64 letters, digits, spaces or . _ @ -');
    if (roles.length === 0 || roles.length > 8 || !roles.every((r) => ROLE.test(r))) throw new FlaggateError('CONTROL_BAD_REQUEST', 'Role must be one to eight role names');
    // Minted and verified like any bearer token, so the console's people are the proxy's people.
    const token = await mintDevToken({ dataDir: config.dataDir, sub: name, name, roles, clock, issuer: config.identity.issuer, audience: config.identity.audience, ttlSeconds: 300 });
    startSession(req, res, await deps.identify(`Bearer ${token}`));
    clearCookie(res, SIGN_IN_COOKIE);
    res.redirect(303, '/console/');
  });

  router.get('/sign-in/oidc', async (_req, res) => {
    if (!oidc) throw new FlaggateError('CONTROL_NOT_FOUND', 'OpenID Connect sign-in is not configured');
    const { url, checks } = await oidc.start(`${base()}/console/callback`);
    const { id } = sessions.startSignIn(checks);
    setCookie(res, SIGN_IN_COOKIE, id, 600);
    res.redirect(303, url);
  });

  router.get('/callback', async (req, res) => {
    if (!oidc) throw new FlaggateError('CONTROL_NOT_FOUND', 'OpenID Connect sign-in is not configured');
    // Used once, whatever happens: a replayed callback finds nothing.
    const pending = sessions.takeSignIn(readCookie(req, SIGN_IN_COOKIE));
    clearCookie(res, SIGN_IN_COOKIE);
    if (!pending?.oidc) throw new FlaggateError('CONSOLE_SIGN_IN_FAILED', 'no sign-in is under way in this browser; start again');
    const query = req.originalUrl.includes('?') ? req.originalUrl.slice(req.originalUrl.indexOf('?')) : '';
    startSession(req, res, await oidc.finish(`${base()}/console/callback${query}`, pending.oidc));
    res.redirect(303, '/console/');
  });

  router.post('/sign-out', form, (req, res) => {
    const cookie = readCookie(req, SESSION_COOKIE);
    const found = sessions.find(cookie);
    checkForm(req, originOf(req), typeof found === 'object' ? found.csrf : undefined);
    sessions.destroy(cookie);
    clearCookie(res, SESSION_COOKIE);
    res.redirect(303, '/console/sign-in');
  });
}

/** The pages behind a session: pending changes, one change and its review. */
function mountPages(router: express.Router, ctx: ConsoleContext): void {
  const { deps, clock, form, originOf, render, decideFor, signedIn, sessionOf, showChange } = ctx;
  router.get('/', signedIn(null), async (_req, res) => {
    const { actor } = sessionOf(res);
    // An auditor, who may read the log but not held changes, starts at the log.
    if (!decideFor(actor, { action: 'change.read', platform: 'flaggate' }).allow && decideFor(actor, { action: 'audit.read', platform: 'flaggate' }).allow) {
      res.redirect(303, '/console/audit');
      return;
    }
    const read = decideFor(actor, { action: 'change.read', platform: 'flaggate' });
    if (!read.allow) throw new FlaggateError('CONTROL_FORBIDDEN', read.reasons.join('; ') || 'change.read is not allowed');
    render(res, 200, 'Pending changes', homeBody(await deps.approvals.list(), clock.now()), sessionOf(res));
  });

  router.get('/changes/:id', signedIn('change.read'), async (req, res) => {
    const done = req.query.done === 'approved' ? 'Your approval was recorded.' : req.query.done === 'rejected' ? 'The change was rejected.' : undefined;
    await showChange(res, 200, idParam(req.params.id), done === undefined ? {} : { done });
  });

  router.post('/changes/:id/review', signedIn('change.read'), form, async (req, res) => {
    const session = sessionOf(res);
    checkForm(req, originOf(req), session.csrf);
    const id = idParam(req.params.id);
    const body = req.body as Record<string, unknown>;
    try {
      const reason = reasonOf(body.reason);
      if (body.verdict === 'approve') {
        await deps.approvals.approve(id, session.actor, reason);
        res.redirect(303, `/console/changes/${id}?done=approved`);
      } else if (body.verdict === 'reject') {
        if (reason === null) throw new FlaggateError('CONTROL_BAD_REQUEST', 'a reason is required to reject a change');
        await deps.approvals.reject(id, session.actor, reason);
        res.redirect(303, `/console/changes/${id}?done=rejected`);
      } else {
        throw new FlaggateError('CONTROL_BAD_REQUEST', 'verdict must be approve or reject');
      }
    } catch (err) {
      // The refusal is shown on the change's own page, next to what was refused.
      const error = asFlaggateError(err);
      if (error.code === 'CHANGE_NOT_FOUND') throw error;
      await showChange(res, error.status, id, { error: { code: error.code, message: error.message } });
    }
  });

  router.get('/break-glass', signedIn('break_glass.read'), (_req, res) => {
    render(res, 200, 'Break-glass changes', breakGlassBody((deps.breakGlass?.list() ?? []).map(breakGlassSummary)), sessionOf(res));
  });

}

/**
 * The web console, mounted at `/console`: server-rendered pages; one local script file only shows times in the viewer's zone. People sign in through
 * OpenID Connect (`console.oidc`) or, in development, through the development issuer's form; each
 * review goes through the same approvals stage as `/v1/changes`, so the same rules refuse it.
 */
export function createConsole(deps: ConsoleDeps): express.Router {
  const ctx = createContext(deps);
  const { render } = ctx;
  const router = express.Router();

  router.use(securityHeaders);

  router.get('/assets/console.css', (_req, res) => {
    res.setHeader('cache-control', 'max-age=3600');
    res.type('css').send(STYLESHEET);
  });

  router.get('/assets/local-time.js', (_req, res) => {
    res.setHeader('cache-control', 'max-age=3600');
    res.type('text/javascript').send(LOCAL_TIME_SCRIPT);
  });

  mountSignIn(router, ctx);
  mountPages(router, ctx);
  mountAudit(router, ctx);
  mountFleet(router, ctx);

  router.use((req, _res, next) => next(new FlaggateError('CONTROL_NOT_FOUND', `no console page ${req.method} ${req.path}`)));

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const error = asFlaggateError(err);
    if (error.code === 'INTERNAL') deps.logger.error('console failure', { error: String(err) });
    const session = res.locals.session as Session | undefined;
    render(res, error.status, error.status === 401 ? 'Sign-in failed' : 'Refused', errorBody(error.code, error.message), session);
  });

  return router;
}

function idParam(value: unknown): string {
  if (typeof value !== 'string' || !ID.test(value)) throw new FlaggateError('CHANGE_NOT_FOUND', 'no such change request');
  return value;
}

function reasonOf(value: unknown): string | null {
  if (value === undefined || value === '') return null;
  // The API takes one line of printable text; a textarea's line breaks (and tabs) become spaces.
  const line = typeof value === 'string' ? value.replace(/\s*[\t\r\n]+\s*/g, ' ').trim() : value;
  if (!isPrintableLine(line, MAX_REASON)) {
    throw new FlaggateError('CONTROL_BAD_REQUEST', `Reason must be printable text of at most ${MAX_REASON} characters`);
  }
  return line === '' ? null : line;
}
