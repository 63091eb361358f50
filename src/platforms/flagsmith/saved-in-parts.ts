import type { DecidedRequest } from '../platform.js';
import { matchWrite, splitPath } from './routes.js';

/**
 * Whether Flagsmith writes part of this request before it can refuse it; its refusal then proves
 * nothing was applied. Flagsmith 2.265.0 runs no request in a transaction (no `ATOMIC_REQUESTS`):
 * - the feature-state update (`BaseFeatureStateViewSet.update`, an environment's or an identity's
 *   feature state, PUT or PATCH) saves `feature_state_value` first, then validates the rest of the
 *   body: a 400 there (allocations over 100%, a value its serializer refuses) can leave the new
 *   value stored;
 * - drf-writable-nested saves the outer row before its nested ones: a new segment override (the
 *   feature segment, its state, then the value and each allocation) and a nested feature state's
 *   update (`enabled`, `live_from` first) can fail on a nested row (a uniqueness check answers 400
 *   or 500) after the outer one is stored.
 */
export function savedInParts(request: DecidedRequest): boolean {
  let route: ReturnType<typeof matchWrite>;
  try {
    route = matchWrite(request.method, splitPath(request.target.split('?', 1)[0]!));
  } catch {
    return false;
  }
  if (route?.route.action === 'segment_override.create' || route?.route.subject === 'nested-feature-state') return true;
  if (request.method !== 'PUT' && request.method !== 'PATCH') return false;
  const subject = route?.route.subject;
  if (subject !== 'feature-state' && subject !== 'identity-override') return false;
  try {
    const body: unknown = JSON.parse(request.body.toString('utf8'));
    return typeof body === 'object' && body !== null && Object.hasOwn(body, 'feature_state_value');
  } catch {
    return false;
  }
}
