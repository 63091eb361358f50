/** The named steps the sequences in ./handle-change.ts are made of. */
import { createHash } from 'node:crypto';
import type { AuditEntry, NewEntry } from '../audit/index.js';
import { boundedRefusal, outcomeEntry } from '../audit/index.js';
import { isoUtc } from '../clock.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import type { ChangeContext } from '../intercept/index.js';
import type { Logger } from '../log.js';
import type { DecidedRequest, FlagChange, PlatformResponse } from '../platforms/index.js';
import { policyInput, type Decision, type PolicyInput } from '../policy/index.js';
import type { Stages } from './stages.js';

/** The policy's decision, timed and counted. */
export function decide(s: Stages, actor: Actor, change: PolicyInput['change'], context: ChangeContext, approvals: PolicyInput['approvals'] = []): Decision {
  const started = s.clock.monotonic();
  let result = 'error';
  const labels = s.metrics.changeLabels(change);
  try {
    const decision = s.policy.decide(policyInput({ actor, change, approvals, context, timeUtc: isoUtc(s.clock.now()) }));
    result = decision.allow ? 'allow' : 'deny';
    if (decision.alerts.length > 0) s.metrics.outOfHoursChanges.inc({ environment: labels.environment });
    return decision;
  } finally {
    s.metrics.decisionSeconds.observe({ result }, (s.clock.monotonic() - started) / 1000);
    s.metrics.decisions.inc({ result, ...labels });
  }
}

const dayInSeconds = 86_400;

/** When a break-glass change's review is due, for `decisionEntry`; nothing when the policy granted none. */
export function breakGlassDue(s: Stages, decision: Decision): { breakGlassReviewDueAt?: string } {
  if (!decision.allow || decision.breakGlass !== true) return {};
  return { breakGlassReviewDueAt: isoUtc(s.clock.now() + (s.breakGlassReviewSeconds ?? dayInSeconds) * 1000) };
}

/** A granted break-glass is counted once its decision is committed: the alert fires before the change is forwarded. */
export function countBreakGlass(s: Stages, entry: AuditEntry): void {
  if (entry.break_glass?.granted !== true) return;
  s.metrics.breakGlass.inc({ platform: entry.platform, environment: s.metrics.changeLabels({ action: entry.action, environment: entry.environment ?? undefined }).environment });
}

/**
 * Records the decision entry of a write that is not forwarded, within the actor's refusal rate and
 * bounded (`boundedRefusal`: the body as digest and excerpt, not whole). Beyond the rate the refusal
 * is only counted: the composition root records each actor's count as one summary entry per window.
 */
export async function recordRefusal(s: Stages, actor: Actor, entry: NewEntry): Promise<void> {
  if (!s.refusals.admit(actor, entry.decision.error_code ?? 'POLICY_DENIED')) return;
  await s.record.settled(boundedRefusal(entry), { upstream: 'soon' });
}

/**
 * From an allowed, committed decision entry on: timestamp, replicate, and only then forward, then
 * the outcome. An entry that is a capped stand-in (the change could not be recorded as is) or does
 * not allow the change is never forwarded: what no entry describes does not reach the platform.
 */
export async function forwardDecided(s: Stages, entry: AuditEntry, request: DecidedRequest, change: FlagChange, log: Logger): Promise<PlatformResponse> {
  if (entry.unrecorded !== null || !entry.decision.allow) {
    await s.record.settle(entry);
    throw new FlaggateError('AUDIT_ENTRY_UNRECORDABLE', `the change cannot be recorded as is, so it is not forwarded: ${entry.unrecorded?.message ?? 'the recorded decision does not allow it'}`, {
      details: { seq: entry.seq },
    });
  }
  try {
    await s.record.secure(entry);
  } catch (err) {
    const error = asFlaggateError(err);
    const notForwarded = outcomeEntry(entry, { status: 'not_forwarded', errorCode: error.code, detail: error.message });
    // The client hears why the change was refused, whatever becomes of its outcome: one the ledger
    // cannot take now (a full disk) is tried again, and a start before that finds the decision in doubt.
    await s.record.settled(notForwarded, { upstream: false }).catch((recordErr: unknown) => {
      log.error('not_forwarded outcome entry not recorded; retrying', { error: String(recordErr) });
      s.metrics.errors.inc({ code: asFlaggateError(recordErr).code });
      recordLater(s, notForwarded, log, 1);
    });
    throw error;
  }
  let response: PlatformResponse;
  try {
    response = await s.platform.forward(request, change);
  } catch (err) {
    const error = asFlaggateError(err);
    // A request that reached the platform (a timeout, a reset after it was sent) may have been acted on: unknown, not failed.
    const mayHaveActed = error.details.timedOut === true || error.details.mayHaveActed === true;
    await settleOutcome(s, entry, { status: mayHaveActed ? 'unknown' : 'failed', errorCode: error.code, detail: error.message }, log);
    throw error;
  }
  const status = outcomeOfResponse(response);
  await settleOutcome(s, entry, { status, platformStatus: response.status, responseSha256: createHash('sha256').update(response.body).digest('hex') }, log);
  return response;
}

/**
 * The change has reached the platform: its outcome is recorded and replicated best we can, never
 * undone. The reply does not wait for an `applied` outcome: it is committed with the next group
 * (under load, or the next change at one client: the next decision, one fsync for both) or within
 * `SOON_COMMIT_MS`, before any entry appended after it (unless its own commit fails), and before
 * the ledger is read through the sidecar or closed. What reached the platform was already committed
 * and upstream as its decision entry; an outcome a crash loses is reconciled from the platform at
 * start-up. A `failed` or `unknown` outcome is committed before its reply (one fsync more for an
 * error): a reconciliation from the flag's state could take someone else's change for it. An
 * outcome the ledger cannot take (disk full) is tried again in the background until it is recorded.
 */
async function settleOutcome(s: Stages, decision: AuditEntry, facts: Parameters<typeof outcomeEntry>[1], log: Logger): Promise<void> {
  const outcome = outcomeEntry(decision, facts);
  const applied = facts.status === 'applied';
  const settling = s.record.settled(outcome, applied ? { upstream: 'soon', commit: 'soon' } : { upstream: 'soon' }).then(undefined, (err: unknown) => {
    log.error('outcome entry not recorded; retrying', { error: String(err) });
    s.metrics.errors.inc({ code: asFlaggateError(err).code });
    recordLater(s, outcome, log, 1);
  });
  if (!applied) await settling;
}

const outcomeRetries = 120;

function recordLater(s: Stages, outcome: NewEntry, log: Logger, attempt: number): void {
  const timer = setTimeout(() => {
    s.record.settled(outcome, { upstream: false }).then(
      (entry) => log.warn('outcome entry recorded late', { seq: entry.seq, attempts: attempt + 1 }),
      (err: unknown) => {
        if (attempt < outcomeRetries) recordLater(s, outcome, log, attempt + 1);
        else log.error('outcome entry still not recorded; it is reconciled at the next start', { error: String(err) });
      },
    );
  }, Math.min(5000, 50 * 2 ** attempt));
  timer.unref();
}

/**
 * What a platform's status says of a forwarded change: 2xx applied, 4xx and 5xx failed, unless the
 * platform says its refusal may come after part of the change was written (`mayHaveActed`). A 3xx
 * (redirects are not followed) says neither: a login page's 302 did not apply it, a 303 after a
 * POST may have; it is unknown.
 */
export function outcomeOfResponse({ status, mayHaveActed }: Pick<PlatformResponse, 'status' | 'mayHaveActed'>): 'applied' | 'failed' | 'unknown' {
  if (status >= 200 && status < 300) return 'applied';
  return status >= 400 && mayHaveActed !== true ? 'failed' : 'unknown';
}
