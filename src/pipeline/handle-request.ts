import { randomUUID } from 'node:crypto';
import { decisionEntry } from '../audit/index.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import { unauthenticatedActor, type Actor } from '../identify/index.js';
import { readChangeContext, withTokenContext } from '../intercept/index.js';
import { pathOnly, type RawRequest } from '../intercept/index.js';
import type { Logger } from '../log.js';
import { handleChange, unrecognizedChange } from './handle-change.js';
import { denied, errorReply, withDecisionId } from './replies.js';
import type { Reply, Stages } from './stages.js';
import { decide, recordRefusal } from './steps.js';

const writeMethods = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const readMethods = new Set(['GET', 'HEAD']);

/** One request through the proxy port: a read after a read check, or a write through `handleChange`. */
export async function handleRequest(req: RawRequest, s: Stages): Promise<Reply> {
  const decisionId = randomUUID();
  const started = s.clock.monotonic();
  const log = s.logger.child({ decisionId, method: req.method, path: pathOnly(req) });
  const method = req.method.toUpperCase();
  let outcome = 'error';
  try {
    if (!writeMethods.has(method) && !readMethods.has(method)) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `method ${req.method} is not proxied`);
    const actor = await identifyOrRecord(req, decisionId, s, log);
    const reply = writeMethods.has(method) ? await handleChange(req, actor, decisionId, s, log) : await handleRead(req, actor, s);
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
      let change = unrecognizedChange(req, s.platform.name);
      try {
        const classified = s.platform.classify(req);
        if (classified.kind === 'write') change = classified.change;
      } catch {
        // an unreadable request: recorded as the unrecognized write it is
      }
      const decision = { refused: { code: error.code, message: error.message }, policy: s.policy.revision };
      await recordRefusal(s, unauthenticatedActor, decisionEntry({ decisionId, actor: unauthenticatedActor, change, context: { links: {} }, decision })).catch((recordErr: unknown) =>
        log.warn('unauthenticated attempt not recorded', { error: String(recordErr) }),
      );
    }
    throw err;
  }
}

async function handleRead(req: RawRequest, actor: Actor, s: Stages): Promise<Reply> {
  const classified = s.platform.classify(req);
  if (classified.kind !== 'read') throw new TypeError('a read method classified as a write');
  const decision = decide(s, actor, classified.read, withTokenContext(readChangeContext(req), actor.claims, s.contextClaims));
  if (!decision.allow) throw denied(decision);
  return s.platform.forward(classified.forward);
}
