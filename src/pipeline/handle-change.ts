/**
 * The durability order of ARCHITECTURE.md, in one place: a write goes identify → adapt → decide →
 * (hold) → record → timestamp → replicate → forward → outcome, and an approved held change
 * re-enters the same sequence at decide. Every write leaves a decision entry, whatever refused it.
 */
import { randomUUID } from 'node:crypto';
import type { NewEntry } from '../audit/index.js';
import { decisionEntry } from '../audit/index.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { Actor } from '../identify/index.js';
import { readChangeContext, withTokenContext, type ChangeContext } from '../intercept/index.js';
import type { RawRequest } from '../intercept/index.js';
import type { Logger } from '../log.js';
import { flagLockKeys, withPreviousState, type DecidedRequest, type FlagChange, type FlagRead, type LockKey } from '../platforms/index.js';
import type { Decision } from '../policy/index.js';
import { denied } from './replies.js';
import type { Reply, ResumedChange, ResumeResult, Stages } from './stages.js';
import { createFlagLocks, type FlagLocks } from './flag-locks.js';
import { breakGlassDue, countBreakGlass, decide, forwardDecided, outcomeOfResponse, recordRefusal } from './steps.js';

/** A write once adapted: decided, held for approvals, or refused before a decision could allow it. */
type Adapted =
  | { kind: 'decided'; change: FlagChange; context: ChangeContext; forward: DecidedRequest; decision: Decision; decorate(entry: NewEntry): NewEntry }
  | { kind: 'held'; reply: Reply }
  | { kind: 'read'; read: FlagRead; forward: DecidedRequest; context: ChangeContext }
  | { kind: 'refused'; error: FlaggateError; change: FlagChange; context: ChangeContext };

const locks = new WeakMap<Stages, FlagLocks>();

/** One write through the proxy port. */
export async function handleChange(req: RawRequest, actor: Actor, decisionId: string, s: Stages, log: Logger): Promise<Reply> {
  const understood = understand(req, actor, s);
  if (understood.kind === 'read') {
    // A POST that changes nothing (Unleash's validate operations): a read, checked as one.
    const decision = decide(s, actor, understood.read, understood.context);
    if (!decision.allow) throw denied(decision);
    return s.platform.forward(understood.forward);
  }
  if (understood.kind === 'refused') return refuse(understood, actor, decisionId, s);
  if (!locks.has(s)) locks.set(s, createFlagLocks());
  // A change over many flags holds every one of them, taken in one order.
  return runLocked(locks.get(s)!, flagLockKeys(understood.change), async () => {
    const adapted = await decideWrite(req, understood, actor, decisionId, s);
    if (adapted.kind === 'held') return adapted.reply;
    if (adapted.kind === 'refused') return refuse(adapted, actor, decisionId, s);
    if (adapted.kind !== 'decided') throw new TypeError('a write decided as a read');
    const { change, context, forward, decision, decorate } = adapted;
    const entry = decorate(decisionEntry({ decisionId, actor, change, context, decision, ...breakGlassDue(s, decision) }));
    if (!decision.allow) {
      await recordRefusal(s, actor, entry);
      throw denied(decision);
    }
    const recorded = await s.record.append(entry);
    countBreakGlass(s, recorded);
    return forwardDecided(s, recorded, forward, change, log);
  });
}

function runLocked<T>(flagLocks: FlagLocks, keys: readonly LockKey[], work: () => Promise<T>): Promise<T> {
  const [first, ...rest] = keys;
  return first === undefined ? work() : flagLocks.run(first.key, () => runLocked(flagLocks, rest, work), first.shared ? 'shared' : 'exclusive');
}

/** Refused before the policy could allow it: still a decision entry, so attempts are on record. */
async function refuse(refused: Extract<Adapted, { kind: 'refused' }>, actor: Actor, decisionId: string, s: Stages): Promise<never> {
  const { error, change, context } = refused;
  await recordRefusal(s, actor, decisionEntry({ decisionId, actor, change, context, decision: refusal(error, s) }));
  throw error;
}

type Understood = Extract<Adapted, { kind: 'read' | 'refused' }> | { kind: 'write'; change: FlagChange; context: ChangeContext; forward: DecidedRequest };

/** Adapt: the change context and the platform's classification, without I/O. */
function understand(req: RawRequest, actor: Actor, s: Stages): Understood {
  let context: ChangeContext = { links: {} };
  try {
    context = withTokenContext(readChangeContext(req), actor.claims, s.contextClaims);
    const classified = s.platform.classify(req);
    if (classified.kind === 'unrecognized') {
      throw new FlaggateError('ADAPT_WRITE_UNRECOGNIZED', `flaggate does not recognize ${classified.method} ${classified.path} as a flag change; it is not forwarded`);
    }
    if (classified.kind === 'read') return { kind: 'read', read: classified.read, forward: classified.forward, context };
    return { kind: 'write', change: classified.change, context, forward: classified.forward };
  } catch (err) {
    return { kind: 'refused', error: asFlaggateError(err), change: unrecognizedChange(req, s.platform.name), context };
  }
}

/** Read the previous state, decide, and let approvals hold the change or lift the hold. */
async function decideWrite(req: RawRequest, w: Extract<Understood, { kind: 'write' }>, actor: Actor, decisionId: string, s: Stages): Promise<Adapted> {
  let change = w.change;
  const { context, forward } = w;
  try {
    change = withPreviousState(s.platform, change, await s.platform.readState(change));
    const decision = decide(s, actor, change, context);
    if (!s.approvals || !decision.holdForApprovals) return { kind: 'decided', change, context, forward, decision, decorate: (e) => e };
    const reviewed = await s.approvals.review({ req, actor, change, context, decision, decisionId });
    if ('held' in reviewed) return { kind: 'held', reply: reviewed.held };
    return { kind: 'decided', change, context, forward, ...reviewed };
  } catch (err) {
    // The refusal entry names the change as far as it was understood.
    return { kind: 'refused', error: asFlaggateError(err), change, context };
  }
}

/**
 * An approved held change, proven from the ledger by the approvals stage, re-enters at decide:
 * decide with its approvals, claim it (only one caller wins), record, timestamp, replicate,
 * forward, outcome.
 */
export async function resumeHeld(held: ResumedChange, s: Stages): Promise<ResumeResult> {
  if (!locks.has(s)) locks.set(s, createFlagLocks());
  return runLocked(locks.get(s)!, flagLockKeys(held.change), async () => {
    await held.unchanged();
    return resumeLocked(held, s);
  });
}

async function resumeLocked(held: ResumedChange, s: Stages): Promise<ResumeResult> {
  const decisionId = randomUUID();
  const log = s.logger.child({ decisionId });
  const decision = decide(s, held.requester, held.change, held.context, held.approvals);
  if (decision.holdForApprovals) return { status: 'pending' };
  const entry = held.link(decisionEntry({ decisionId, actor: held.requester, change: held.change, context: held.context, decision }));
  if (!decision.allow) {
    if (await held.claim('denied')) await s.record.settled(entry);
    return { status: 'refused', error: denied(decision) };
  }
  if (!(await held.claim('applying'))) return { status: 'refused', error: new FlaggateError('CHANGE_NOT_PENDING', 'the change request is no longer pending') };
  try {
    const recorded = await s.record.append(entry);
    const reply = await forwardDecided(s, recorded, held.forward, held.change, log);
    return { status: 'forwarded', decisionId, reply, outcome: outcomeOfResponse(reply) };
  } catch (err) {
    return { status: 'failed', decisionId, error: asFlaggateError(err) };
  }
}

function refusal(error: FlaggateError, s: Stages) {
  return { refused: { code: error.code, message: error.message }, policy: s.policy.revision };
}

/** The stand-in change of a write no adapter recognized (or could not read). */
export function unrecognizedChange(req: RawRequest, platform: string): FlagChange {
  return { platform, action: 'unrecognized', flagKey: '', request: { method: req.method.toUpperCase(), path: req.path, bodySha256: req.bodySha256 } };
}
