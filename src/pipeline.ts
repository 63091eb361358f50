import { createHash, randomUUID } from 'node:crypto';
import type { DecidedRequest, FlagChange, FlagRead, PlatformAdapter, PlatformResponse } from './platforms/index.js';
import type { AuditEntry, NewEntry } from './audit/entry.js';
import { boundedRefusal, decisionEntry, outcomeEntry } from './audit/new-entry.js';
import type { Clock } from './clock.js';
import { isoUtc } from './clock.js';
import { asFlaggateError, errorBody, FlaggateError } from './errors.js';
import type { Forward } from './platforms/index.js';
import { unauthenticatedActor, type Actor } from './identify/actor.js';
import { readChangeContext, type ChangeContext } from './intercept/change-context.js';
import type { RawRequest } from './intercept/raw-request.js';
import { pathOnly } from './intercept/raw-request.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { Decision, PolicyInput, PolicyRevision } from './policy/decision.js';

/** Everything the pipeline calls, built once by the composition root (`main.ts`). */
export interface Stages {
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  identify(authorization: string | undefined): Promise<Actor>;
  adapter: PlatformAdapter;
  policy: { decide(input: PolicyInput): Decision; readonly revision: PolicyRevision };
  /** Resolves once the entry is committed to disk (possibly in one transaction with concurrent ones). */
  record: { append(entry: NewEntry): Promise<AuditEntry> };
  /** RFC 3161 coverage of an entry (and, through the chain, of every entry before it). */
  timestamp: { cover(seq: number, hash: string): Promise<void>; coverSoon(seq: number, hash: string): void };
  replicate: { through(seq: number): Promise<void> };
  /** Bounds how many refusals of one actor (the unauthenticated one too) are recorded one by one. */
  refusals: { admit(actor: Actor, code: string): boolean };
  forward: Forward;
  /** Holds changes the policy says need approvals (set by the composition root when approvals are on). */
  approvals?: ApprovalsHook;
}

/** A write the policy allows only with approvals it does not have yet. */
export interface HeldWrite {
  req: RawRequest;
  actor: Actor;
  change: FlagChange;
  context: ChangeContext;
  decision: Decision;
  decisionId: string;
}

/**
 * The approvals stage as the pipeline sees it: either the change is held (202 reply), or approval
 * tokens it carries satisfied the policy and it goes on with the new decision, its entry decorated
 * with the approval proof.
 */
export interface ApprovalsHook {
  review(held: HeldWrite): Promise<{ held: Reply } | { decision: Decision; decorate(entry: NewEntry): NewEntry }>;
}

/** True when approvals are the only thing the decision is missing. */
export function awaitsApprovals(decision: Decision): boolean {
  return decision.holdForApprovals;
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const readMethods = new Set(['GET', 'HEAD']);

/**
 * One request through the proxy port, in the durability order of ARCHITECTURE.md: identify, adapt,
 * decide, record (committed), timestamp (covered), replicate (acknowledged), and only then forward, then record the
 * outcome. Every authenticated write leaves a decision entry, whatever refused it.
 */
export async function handleRequest(req: RawRequest, s: Stages): Promise<Reply> {
  const decisionId = randomUUID();
  const started = s.clock.monotonic();
  const log = s.logger.child({ decisionId, method: req.method, path: pathOnly(req) });
  let outcome = 'error';
  try {
    if (!writeMethods.has(req.method.toUpperCase()) && !readMethods.has(req.method.toUpperCase())) {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `method ${req.method} is not proxied`);
    }
    const actor = await identifyOrRecord(req, decisionId, s, log);
    const reply = writeMethods.has(req.method.toUpperCase())
      ? await handleWrite(req, actor, decisionId, s, log)
      : await handleRead(req, actor, s);
    outcome = reply.status < 400 ? 'forwarded' : 'refused';
    return withDecisionId(reply, decisionId);
  } catch (err) {
    const error = asFlaggateError(err);
    if (error.code === 'INTERNAL') log.error('unexpected failure', { error: String(err), stack: (err as Error).stack });
    else log.info('refused', { code: error.code, message: error.message });
    outcome = error.status < 500 ? 'refused' : 'error';
    s.metrics.errors.inc({ code: error.code });
    return errorReply(error, decisionId);
  } finally {
    s.metrics.requestSeconds.observe({ outcome }, (s.clock.monotonic() - started) / 1000);
  }
}

/**
 * Identifies the caller. A write whose token does not verify is refused with its IDENTIFY_* code
 * and recorded as an attempt by nobody, within the refusal rate (anonymous traffic must not flood
 * the ledger): auditors see forged or expired tokens aimed at flags, not only the successes.
 */
async function identifyOrRecord(req: RawRequest, decisionId: string, s: Stages, log: Logger): Promise<Actor> {
  try {
    return await s.identify(req.headers.authorization);
  } catch (err) {
    const error = asFlaggateError(err);
    if (writeMethods.has(req.method.toUpperCase()) && error.status === 401) {
      let change = unrecognizedChange(req, s.adapter.name);
      try {
        const classified = s.adapter.classify(req);
        if (classified.kind === 'write') change = classified.change;
      } catch {
        // an unreadable body: recorded as the unrecognized write it is
      }
      try {
        await recordRefusal(
          s,
          unauthenticatedActor,
          decisionEntry({ decisionId, actor: unauthenticatedActor, change, context: { links: {} }, decision: { refused: { code: error.code, message: error.message }, policy: s.policy.revision } }),
          log,
        );
      } catch (recordErr) {
        log.warn('unauthenticated attempt not recorded', { error: String(recordErr) });
      }
    }
    throw err;
  }
}

async function handleRead(req: RawRequest, actor: Actor, s: Stages): Promise<Reply> {
  const classified = s.adapter.classify(req);
  if (classified.kind !== 'read') throw new TypeError('a read method classified as a write');
  const decision = decide(s, actor, classified.read, readChangeContext(req));
  if (!decision.allow) throw denied(decision);
  return s.forward(classified.forward);
}

async function handleWrite(req: RawRequest, actor: Actor, decisionId: string, s: Stages, log: Logger): Promise<Reply> {
  let change: FlagChange = unrecognizedChange(req, s.adapter.name);
  let context: ChangeContext = { links: {} };
  let forward: DecidedRequest;
  let decision: Decision;
  let decorate = (entry: NewEntry): NewEntry => entry;
  try {
    context = readChangeContext(req);
    const classified = s.adapter.classify(req);
    if (classified.kind === 'unrecognized') {
      throw new FlaggateError('ADAPT_WRITE_UNRECOGNIZED', `flaggate does not recognize ${classified.method} ${classified.path} as a flag change; it is not forwarded`);
    }
    if (classified.kind === 'read') throw new TypeError('a write method classified as a read');
    forward = classified.forward;
    change = { ...classified.change, previousState: await s.adapter.readState(classified.change) };
    decision = decide(s, actor, change, context);
    if (s.approvals && awaitsApprovals(decision)) {
      const reviewed = await s.approvals.review({ req, actor, change, context, decision, decisionId });
      if ('held' in reviewed) return reviewed.held;
      ({ decision, decorate } = reviewed);
    }
  } catch (err) {
    // Refused before the policy could allow it: still a decision entry, so attempts are on record.
    const error = asFlaggateError(err);
    await recordRefusal(s, actor, decisionEntry({ decisionId, actor, change, context, decision: { refused: { code: error.code, message: error.message }, policy: s.policy.revision } }), log);
    throw error;
  }

  if (!decision.allow) {
    await recordRefusal(s, actor, decorate(decisionEntry({ decisionId, actor, change, context, decision })), log);
    throw denied(decision);
  }
  const entry = await s.record.append(decorate(decisionEntry({ decisionId, actor, change, context, decision })));
  return forwardDecided(forward, change, entry, s, log);
}

/**
 * Records the decision entry of a write that is not forwarded, within the actor's refusal rate and
 * bounded (`boundedRefusal`: the body as digest and excerpt, not whole). Beyond the rate the refusal
 * is only counted: the composition root records each actor's count as one summary entry per window.
 */
async function recordRefusal(s: Stages, actor: Actor, entry: NewEntry, log: Logger): Promise<void> {
  if (!s.refusals.admit(actor, entry.decision.error_code ?? 'POLICY_DENIED')) return;
  const appended = await s.record.append(boundedRefusal(entry));
  await replicateRefusal(s, appended, log);
}

/**
 * From an allowed decision entry on: timestamp, replicate, forward, outcome. Also the tail of a held
 * change once it is approved, with its stored request classified again.
 */
export async function forwardDecided(req: DecidedRequest, change: FlagChange, entry: AuditEntry, s: Stages, log: Logger): Promise<Reply> {
  if (entry.unrecorded !== null || !entry.decision.allow) {
    // The ledger recorded a capped stand-in, not this change: what no entry describes is not forwarded.
    await replicateRefusal(s, entry, log);
    throw new FlaggateError('AUDIT_ENTRY_UNRECORDABLE', `the change cannot be recorded as is, so it is not forwarded: ${entry.unrecorded?.message ?? 'the recorded decision does not allow it'}`, {
      details: { seq: entry.seq },
    });
  }
  try {
    await s.timestamp.cover(entry.seq, entry.hash);
    await s.replicate.through(entry.seq);
  } catch (err) {
    const error = asFlaggateError(err);
    const refused = await s.record.append(outcomeEntry(entry, { status: 'not_forwarded', errorCode: error.code, detail: error.message }));
    s.timestamp.coverSoon(refused.seq, refused.hash);
    throw error;
  }

  let response: PlatformResponse;
  try {
    response = await s.forward(req, change);
  } catch (err) {
    const error = asFlaggateError(err);
    const status = error.details.timedOut === true ? 'unknown' : 'failed';
    await settleOutcome(s, entry, { status, errorCode: error.code, detail: error.message }, log);
    throw error;
  }
  await settleOutcome(
    s,
    entry,
    {
      status: response.status < 400 ? 'applied' : 'failed',
      platformStatus: response.status,
      responseSha256: createHash('sha256').update(response.body).digest('hex'),
    },
    log,
  );
  return response;
}

/**
 * A refusal forwards nothing, so its entry need not be upstream before the reply: the client gets
 * the refusal's own reason, and a sink that is down receives the entry when it drains.
 */
export async function replicateRefusal(s: Stages, entry: AuditEntry, log: Logger): Promise<void> {
  s.timestamp.coverSoon(entry.seq, entry.hash);
  try {
    await s.replicate.through(entry.seq);
  } catch (err) {
    log.warn('refusal recorded locally, not yet upstream', { seq: entry.seq, code: asFlaggateError(err).code });
  }
}

/**
 * The change has reached the platform: its outcome is recorded and replicated best we can, never
 * undone. An outcome the ledger cannot take now (disk full) is tried again in the background until it
 * is recorded; one still missing at a restart is reconciled from the platform's state at start-up.
 */
async function settleOutcome(s: Stages, decision: AuditEntry, facts: Parameters<typeof outcomeEntry>[1], log: Logger): Promise<void> {
  const outcome = outcomeEntry(decision, facts);
  let entry: AuditEntry;
  try {
    entry = await s.record.append(outcome);
  } catch (err) {
    log.error('outcome entry not recorded; retrying', { error: String(err) });
    s.metrics.errors.inc({ code: asFlaggateError(err).code });
    recordLater(s, outcome, log, 1);
    return;
  }
  s.timestamp.coverSoon(entry.seq, entry.hash);
  try {
    await s.replicate.through(entry.seq);
  } catch (err) {
    log.error('outcome entry recorded locally, not yet upstream', { seq: entry.seq, error: String(err) });
    s.metrics.errors.inc({ code: asFlaggateError(err).code });
  }
}

const outcomeRetries = 120;

function recordLater(s: Stages, outcome: NewEntry, log: Logger, attempt: number): void {
  const timer = setTimeout(() => {
    s.record.append(outcome).then(
      (entry) => {
        log.warn('outcome entry recorded late', { seq: entry.seq, attempts: attempt + 1 });
        s.timestamp.coverSoon(entry.seq, entry.hash);
      },
      (err: unknown) => {
        if (attempt < outcomeRetries) recordLater(s, outcome, log, attempt + 1);
        else log.error('outcome entry still not recorded; it is reconciled at the next start', { error: String(err) });
      },
    );
  }, Math.min(5000, 50 * 2 ** attempt));
  timer.unref();
}

function decide(s: Stages, actor: Actor, change: PolicyInput['change'], context: ChangeContext): Decision {
  const started = s.clock.monotonic();
  let result = 'error';
  const labels = s.metrics.changeLabels(change);
  try {
    const decision = s.policy.decide({
      actor: { id: actor.id, displayName: actor.displayName, authMethod: actor.authMethod, roles: actor.roles },
      change,
      approvals: [],
      context: { ...context, timeUtc: isoUtc(s.clock.now()) },
    });
    result = decision.allow ? 'allow' : 'deny';
    if (decision.alerts.length > 0) s.metrics.outOfHoursChanges.inc({ environment: labels.environment });
    return decision;
  } finally {
    s.metrics.decisionSeconds.observe({ result }, (s.clock.monotonic() - started) / 1000);
    s.metrics.decisions.inc({ result, ...labels });
  }
}

export function denied(decision: Decision): FlaggateError {
  return new FlaggateError('POLICY_DENIED', decision.reasons.join('; ') || 'denied by policy', {
    details: {
      reasons: decision.reasons,
      requiredApprovals: decision.requiredApprovals,
      approverRoles: decision.approverRoles,
      policy: decision.policy,
    },
  });
}

function unrecognizedChange(req: RawRequest, platform: string): FlagChange {
  return {
    platform,
    action: 'unrecognized',
    flagKey: '',
    request: { method: req.method.toUpperCase(), path: req.path, bodySha256: req.bodySha256 },
  };
}

function withDecisionId(reply: Reply, decisionId: string): Reply {
  return { ...reply, headers: { ...reply.headers, 'x-flaggate-decision-id': decisionId } };
}

export function errorReply(error: FlaggateError, decisionId?: string): Reply {
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (decisionId) headers['x-flaggate-decision-id'] = decisionId;
  if (error.code === 'REPLICATE_UNACKED' || error.code === 'AUDIT_WRITE_FAILED' || error.code === 'AUDIT_DISK_FULL') headers['retry-after'] = '5';
  if (error.status === 401) headers['www-authenticate'] = 'Bearer';
  return { status: error.status, headers, body: Buffer.from(JSON.stringify(errorBody(error, decisionId))) };
}

export type { FlagRead };
