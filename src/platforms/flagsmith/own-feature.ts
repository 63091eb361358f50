/**
 * A Flagsmith write names its feature twice where its body carries `feature`: by the path (or the
 * row the path names) and by that id. Flagsmith acts on the body's: a PATCH of an identity override
 * or of an environment's feature state writes the body's feature into the row (only PUT checks it
 * stays), and a new or updated multivariate option is saved on the body's feature, whatever feature
 * the path names. The policy judges the flag the state read names, so the two must be one. Pure
 * (over the state `readState` returned), so a held change re-derived from its stored state passes
 * as it passed when it was requested.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { isObject, rowIdOf } from './classify.js';
import type { FlagsmithState } from './read-state.js';

const NESTED_STATES = '/api/v1/features/featurestates/';

/** Variant writes that name an option by id: it must be one of the path's feature's options. */
const OPTION_BY_ID = new Set(['variant.update', 'variant.delete']);

/** Throws ADAPT_TARGET_MISMATCH when the change's body names another feature than the state read, or the path an option of another. */
export function requireOwnFeature(change: FlagChange, previousState: unknown): void {
  if (!isObject(previousState)) return;
  requireOwnRows(change, previousState);
  // Before the existence test: a new identity override's allocations are created all the same.
  requireOwnOptions(change, previousState as unknown as FlagsmithState);
  // A nested feature state is found through the list of the body's environment and feature: one the
  // list does not show (scheduled, an older version) cannot be told to be that feature's.
  if (change.request.path.startsWith(NESTED_STATES) && previousState.exists !== true) {
    throw mismatch(`feature state ${change.flagKey.slice('feature-state:'.length)} is not among the states Flagsmith lists for the environment and feature the body names`, { featureState: change.flagKey });
  }
  if (previousState.exists !== true) return;
  const state = previousState as unknown as FlagsmithState;
  if (change.request.path.startsWith(NESTED_STATES)) requireSegmentOverride(change, state);
  requireWholeLists(change, state);
  requireAllocationsKept(change, state);
  requireTypeKept(change, state);
  if (change.action === 'segment_override.create') requireOwnSegment(state);
  const featureId = state.feature?.id;
  const named = isObject(change.newState) ? change.newState.feature : undefined;
  if (named !== undefined && named !== featureId) {
    throw mismatch(`the body names feature ${JSON.stringify(named)}, but the change is to feature ${String(featureId)} (${String(state.name)})`, { feature: named, expected: featureId });
  }
  if (OPTION_BY_ID.has(change.action) && (state.target === null || state.target === undefined)) {
    const option = isObject(change.newState) ? change.newState.variant : undefined;
    throw mismatch(`option ${String(option)} is not one of feature ${String(featureId)}'s (${String(state.name)}) options`, { option, feature: featureId });
  }
}

/**
 * The nested route is decided as a segment override's update, but Flagsmith updates whatever
 * feature state the id names: an environment's default, or an identity's override. Each of those
 * has its own route, decided as what it is (`flag.update` in its environment, an identity override).
 */
function requireSegmentOverride(change: FlagChange, state: FlagsmithState): void {
  const target = isObject(state.target) ? state.target : {};
  if (rowIdOf(target.feature_segment) !== null && rowIdOf(target.identity) === null) return;
  const what = rowIdOf(target.identity) !== null ? 'an identity override' : "an environment's default state";
  throw mismatch(`feature state ${String(target.id ?? change.flagKey)} is ${what}, not a segment override: change it through its own route`, { featureState: target.id ?? null });
}

/**
 * drf-writable-nested saves a nested object that names a row by id over that row, wherever it is:
 * a multivariate allocation or a feature segment of production, named in a body whose path is
 * staging's, would move into staging's state. A nested id must be one of the state's own rows (as
 * Flagsmith's clients send them back), and a new state has none.
 */
function requireOwnRows(change: FlagChange, state: Record<string, unknown>): void {
  const body = isObject(change.newState) ? change.newState : {};
  const allocations = Array.isArray(body.multivariate_feature_state_values) ? body.multivariate_feature_state_values : [];
  const named = allocations.flatMap((v: unknown) => (isObject(v) && v.id !== undefined ? [v.id] : []));
  const nested = change.request.path.startsWith(NESTED_STATES);
  // A feature segment or identity named by an integer is a row too (the nested route takes both),
  // and null there would turn the override into the environment's default.
  const segment = isObject(body.feature_segment) ? body.feature_segment.id : nested && Object.hasOwn(body, 'feature_segment') ? body.feature_segment : body.feature_segment ?? undefined;
  // (Elsewhere `identity` in the new state is the path's, added by classify.)
  const identity = nested && Object.hasOwn(body, 'identity') ? body.identity : undefined;
  // A state live from another time is not what is served now: sent back as read, or not at all.
  const liveFrom = nested && Object.hasOwn(body, 'live_from') ? body.live_from : undefined;
  if (named.length === 0 && segment === undefined && identity === undefined && liveFrom === undefined) return;
  const target = state.exists === true && isObject(state.target) && !change.action.endsWith('.create') ? state.target : undefined;
  const own = new Set((Array.isArray(target?.multivariate_feature_state_values) ? target.multivariate_feature_state_values : []).map((v: unknown) => (isObject(v) ? v.id : v)));
  const stranger = named.find((id) => !own.has(id));
  if (stranger !== undefined) throw mismatch(`multivariate value ${JSON.stringify(stranger)} is not one of this feature state's`, { row: stranger });
  const ownSegment = rowIdOf(target?.feature_segment);
  if (segment !== undefined && segment !== ownSegment) throw mismatch(`feature segment ${JSON.stringify(segment)} is not this feature state's`, { row: segment });
  const ownIdentity = rowIdOf(target?.identity);
  if (identity !== undefined && identity !== ownIdentity) throw mismatch(`identity ${JSON.stringify(identity)} is not this feature state's`, { row: identity });
  if (liveFrom !== undefined && liveFrom !== (target?.live_from ?? null)) {
    throw mismatch(`live_from ${JSON.stringify(liveFrom)} is not this feature state's (${JSON.stringify(target?.live_from ?? null)}): a state live from another time is not the one served now`, { live_from: liveFrom });
  }
}

/**
 * Flagsmith takes any option id in an allocation, and serves the option allocated, whichever
 * feature (or organisation) it belongs to; and drf-writable-nested saves a feature's nested option
 * that names a row by `id` over that row, wherever it is (another feature's allocations then serve
 * what this body wrote). Each must be one of the feature's own options, as the state read lists
 * them: a new feature has none.
 */
function requireOwnOptions(change: FlagChange, state: FlagsmithState): void {
  const body = isObject(change.newState) ? change.newState : {};
  const allocations = Array.isArray(body.multivariate_feature_state_values) ? body.multivariate_feature_state_values : [];
  const options = Array.isArray(body.multivariate_options) ? body.multivariate_options : [];
  const named = [
    ...allocations.flatMap((v: unknown) => (isObject(v) && v.multivariate_feature_option !== undefined ? [v.multivariate_feature_option] : [])),
    ...options.flatMap((o: unknown) => (isObject(o) && o.id !== undefined ? [o.id] : [])),
  ];
  if (named.length === 0) return;
  const listed = state.feature?.multivariate_options;
  const own = new Set((Array.isArray(listed) ? listed : []).map((o: unknown) => (isObject(o) ? o.id : o)));
  const stranger = named.find((id) => !own.has(id));
  if (stranger !== undefined) {
    throw mismatch(`multivariate option ${JSON.stringify(stranger)} is not one of feature ${String(state.feature?.id)}'s (${String(state.name)}) options`, { option: stranger, feature: state.feature?.id });
  }
}

const FEATURE_PATH = /^\/api\/v1\/projects\/[^/]+\/features\/[^/]+\/$/;
const FUTURE_PATH = '/api/__future__/';

/**
 * Lists Flagsmith replaces whole, so that what a body leaves out is deleted or reset:
 * - a feature's update deletes the options its `multivariate_options` leaves out (with their
 *   allocations in every environment, which the entry would not show); it replaces the metadata
 *   with the body's list, and deletes it all when the body has none (a list sent is recorded as the
 *   replacement it is; one left out is refused unless the feature holds none);
 * - a `__future__` PUT deletes the segment overrides it leaves out and sets the `enabled`, `value`
 *   and (multivariate) `variants` a listed one leaves out to the environment default's; so does a
 *   new override on a PATCH, which also takes its index in the list as its priority.
 * Removals go through their own routes (`DELETE …/mv-options/:id/`, `DELETE …/segment-overrides/:segment/`), recorded as such.
 */
function requireWholeLists(change: FlagChange, state: FlagsmithState): void {
  const body = isObject(change.newState) ? change.newState : {};
  const { method, path } = change.request;
  if ((method === 'PUT' || method === 'PATCH') && FEATURE_PATH.test(path)) {
    if (Array.isArray(body.multivariate_options)) {
      if (!Array.isArray(state.feature?.multivariate_options)) throw mismatch('multivariate_options replaces the feature\'s options, and the state read does not list them', { option: null });
      const listed = new Set(body.multivariate_options.map((o: unknown) => (isObject(o) ? o.id : undefined)));
      const dropped = idsOf(state.feature.multivariate_options, (o) => o.id).find((id) => !listed.has(id));
      if (dropped !== undefined) throw mismatch(`multivariate_options leaves out option ${JSON.stringify(dropped)}: Flagsmith would delete it and its allocations in every environment (delete it through its mv-options route)`, { option: dropped });
    }
    const held = state.feature?.metadata;
    if (!Object.hasOwn(body, 'metadata') && !(Array.isArray(held) && held.length === 0)) throw mismatch('metadata must be sent: Flagsmith replaces a feature\'s metadata with the body\'s, and deletes it all when the body has none', { metadata: held ?? null });
  }
  if ((method === 'PUT' || method === 'PATCH') && path.startsWith(FUTURE_PATH) && Array.isArray(body.segment_overrides)) {
    const segmentOf = (o: Record<string, unknown>) => (isObject(o.segment) ? o.segment.id : undefined);
    const existing = idsOf(isObject(state.target) ? state.target.segment_overrides : undefined, segmentOf);
    const listed = body.segment_overrides.filter(isObject);
    if (method === 'PUT') {
      const dropped = existing.find((id) => !listed.some((o) => segmentOf(o) === id));
      if (dropped !== undefined) throw mismatch(`segment_overrides leaves out segment ${JSON.stringify(dropped)}: a PUT deletes its override (delete it through its segment-overrides route)`, { segment: dropped });
    }
    // A multivariate feature's override without variants takes the environment default's weights.
    const multivariate = state.feature?.type === 'MULTIVARIATE' || (Array.isArray(state.feature?.multivariate_options) && state.feature.multivariate_options.length > 0);
    const replaced = ['enabled', 'value', ...(multivariate ? ['variants'] : [])];
    for (const [index, o] of listed.entries()) {
      const fresh = !existing.includes(segmentOf(o));
      const needed = fresh ? [...replaced, 'priority'] : method === 'PUT' ? replaced : [];
      const missing = needed.find((k) => !Object.hasOwn(o, k));
      if (missing !== undefined) throw mismatch(`the override of segment ${JSON.stringify(segmentOf(o))} must carry ${missing}: ${missing === 'priority' ? `a new one left without is given its index in the list (${index}) as its priority` : 'left out, it is set to the environment default\'s'}`, { segment: segmentOf(o) ?? null, member: missing });
    }
  }
}

/**
 * An allocation list replaces the state's allocations, even on a PATCH (drf-writable-nested deletes
 * the rows it leaves out): each the state read holds must be listed by its id, so the entry shows
 * every allocation the state keeps. Remove one by sending it at 0.
 */
function requireAllocationsKept(change: FlagChange, state: FlagsmithState): void {
  const body = isObject(change.newState) ? change.newState : {};
  if (!Array.isArray(body.multivariate_feature_state_values) || change.action.endsWith('.create') || !isObject(state.target)) return;
  const listed = new Set(body.multivariate_feature_state_values.map((v: unknown) => (isObject(v) ? v.id : undefined)));
  const dropped = idsOf(state.target.multivariate_feature_state_values, (v) => v.id).find((id) => !listed.has(id));
  if (dropped !== undefined) throw mismatch(`multivariate_feature_state_values leaves out allocation ${JSON.stringify(dropped)}: Flagsmith would delete it (send it at 0 to serve none of its option)`, { row: dropped });
}

/**
 * A new option makes its feature multivariate (an AFTER_CREATE hook), whatever type it had: a
 * feature set to STANDARD with its options kept would serve them again, in every environment, by
 * allocations the entry does not show. Set the feature's type back to MULTIVARIATE first.
 */
function requireTypeKept(change: FlagChange, state: FlagsmithState): void {
  if (change.action !== 'variant.create' || state.feature?.type === 'MULTIVARIATE') return;
  const options = state.feature?.multivariate_options;
  if (!Array.isArray(options) || options.length === 0) return;
  throw mismatch(`feature ${String(state.feature?.id)} (${String(state.name)}) is ${String(state.feature?.type)} with options: a new option makes it multivariate again and serves them all (set its type to MULTIVARIATE first)`, { feature: state.feature?.id ?? null });
}

/** A new override's segment is a live segment of the feature's project, specific to no other feature. */
function requireOwnSegment(state: FlagsmithState): void {
  const segment = state.segment;
  if (segment === undefined || segment === null) {
    throw mismatch(`the segment is not a live segment of feature ${String(state.feature?.id)}'s project: Flagsmith would store an override it never serves`, { segment: null });
  }
  if (segment.feature !== null && segment.feature !== state.feature?.id) {
    throw mismatch(`segment ${String(segment.id)} (${String(segment.name)}) is specific to feature ${String(segment.feature)}: deleting that feature would delete this override`, { segment: segment.id });
  }
}

function idsOf(list: unknown, idOf: (row: Record<string, unknown>) => unknown): unknown[] {
  return Array.isArray(list) ? list.filter(isObject).map(idOf) : [];
}

function mismatch(message: string, details: Record<string, unknown>): FlaggateError {
  return new FlaggateError('ADAPT_TARGET_MISMATCH', message, { details });
}
