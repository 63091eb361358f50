import { createHash } from 'node:crypto';
import { withPreviousState, type DecidedRequest, type FlagChange, type PlatformAdapter } from '../platforms/index.js';
import { canonicalJson } from '../audit/index.js';
import { asFlaggateError, FlaggateError } from '../errors.js';
import type { ChangeRequest } from './store.js';

/**
 * A held change is never trusted as stored: its request bytes are classified again by the
 * platform's adapter, and what they mean must be the change that was decided and recorded. The
 * request forwarded is the one this classification rebuilds, not the stored path or headers.
 * Throws CHANGE_TAMPERED when the row's request and change disagree. Also returns the change as
 * classified, before the reach its state adds: what the platform's state is read for, as it was
 * when the change was requested.
 */
export function rederiveHeld(cr: ChangeRequest, adapter: Pick<PlatformAdapter, 'classify' | 'reach'>): { forward: DecidedRequest; classified: FlagChange } {
  const bodySha256 = createHash('sha256').update(cr.body).digest('hex');
  if (bodySha256 !== cr.bodySha256) throw tampered(cr, 'the stored body does not match its digest');
  let classified;
  try {
    classified = adapter.classify({ method: cr.method, path: cr.path, headers: cr.headers, body: cr.body, bodySha256 });
  } catch (err) {
    throw tampered(cr, `the stored request no longer classifies (its stored method, path or headers were altered, or this version of flaggate reads it otherwise): ${asFlaggateError(err).message}`);
  }
  if (classified.kind !== 'write') throw tampered(cr, 'the stored request is not a recognized write');
  // The reach a change was decided with (a segment's strategies) comes from the state it was decided on.
  const { previousState: _now, ...meant } = withPreviousState(adapter, classified.change, cr.change.previousState);
  const { previousState: _then, ...stored } = cr.change;
  if (canonicalJson(meant) !== canonicalJson(stored)) {
    // The body is the recorded one (its digest is); the method, path and kept headers are only the
    // row's, and a release that reads a request otherwise (records it more exactly) finds another
    // change too: the message names both causes, since the entry that refuses it keeps it.
    throw tampered(cr, 'the stored request means another change than the one recorded (its stored method, path or headers were altered, or this version of flaggate reads it otherwise)');
  }
  return { forward: classified.forward, classified: classified.change };
}

function tampered(cr: ChangeRequest, why: string): FlaggateError {
  return new FlaggateError('CHANGE_TAMPERED', `change request ${cr.id} is refused: ${why}`, { details: { changeRequestId: cr.id } });
}
