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
 *   feature segment, its state, then the value and each allocation), a nested feature state's
 *   update (`enabled`, `live_from` first) and any feature-state write with allocations can fail on
 *   a nested row (a uniqueness check answers 400 or 500) after the outer one is stored.
 */
export function savedInParts(request: DecidedRequest): boolean {
  let route: ReturnType<typeof matchWrite>;
  try {
    route = matchWrite(request.method, splitPath(request.target.split('?', 1)[0]!));
  } catch {
    return false;
  }
  if (route?.route.action === 'segment_override.create' || route?.route.subject === 'nested-feature-state') return true;
  const subject = route?.route.subject;
  if (subject !== 'feature-state' && subject !== 'identity-override') return false;
  try {
    const body: unknown = JSON.parse(request.body.toString('utf8'));
    if (typeof body !== 'object' || body === null) return false;
    // Allocations are nested rows, saved after the state itself (its `enabled`), also on a create.
    if (Object.hasOwn(body, 'multivariate_feature_state_values')) return true;
    return request.method !== 'POST' && Object.hasOwn(body, 'feature_state_value');
  } catch {
    return false;
  }
}
