import type { DecidedRequest } from '../platform.js';
import { matchWrite, splitPath } from './routes.js';

/**
 * Whether Flagsmith writes part of this request before it can refuse it. Flagsmith 2.265.0's
 * feature-state update (`BaseFeatureStateViewSet.update`, an environment's or an identity's
 * feature state, PUT or PATCH) saves `feature_state_value` first, then validates the rest of the
 * body, without a transaction around both: a 400 there (allocations over 100%, a value its
 * serializer refuses) can leave the new value stored. Such a refusal proves nothing was applied.
 */
export function valueSavedFirst(request: DecidedRequest): boolean {
  if (request.method !== 'PUT' && request.method !== 'PATCH') return false;
  let subject: string | undefined;
  try {
    subject = matchWrite(request.method, splitPath(request.target.split('?', 1)[0]!))?.route.subject;
  } catch {
    return false;
  }
  if (subject !== 'feature-state' && subject !== 'identity-override') return false;
  try {
    const body: unknown = JSON.parse(request.body.toString('utf8'));
    return typeof body === 'object' && body !== null && Object.hasOwn(body, 'feature_state_value');
  } catch {
    return false;
  }
}
