/**
 * What a change names besides its flag must be where its path says, in the state read before the
 * decision. Unleash finds some objects by id or name alone:
 * - a strategy by its id, checking its project and flag but not its environment: a production
 *   strategy's id under a development path changes production, decided as development;
 * - a link by its id, checking neither flag nor project: another flag's link changes that flag;
 * - for links and lifecycle, the flag by its name, whatever project the path names;
 * - a clone's source by its name, in any project.
 * Pure (the state is the one `readState` returned), so a held change re-derived from its stored
 * state passes as it passed when it was requested.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { isObject } from './body.js';
import type { UnleashFlagState } from './read-state.js';

/** The writes that name a strategy or a link by id besides the flag. */
const OWNED: Record<string, 'strategy' | 'link'> = {
  'strategy.update': 'strategy',
  'strategy.delete': 'strategy',
  'link.update': 'link',
  'link.delete': 'link',
};

/**
 * The writes whose state is read through the path's project (`GET /projects/:project/features/:feature`)
 * and that need the flag to be there: everything read that way except a create.
 */
const NOT_THROUGH_PROJECT = new Set(['flag.create', 'flag.delete', 'flag.revive', 'tag.add', 'tag.update', 'tag.delete']);

/** Throws ADAPT_TARGET_MISMATCH when `previousState` shows the change would alter something other than it names. */
export function requireOwnTargets(change: FlagChange, previousState: unknown): void {
  // Batches, imports and the reach of segments and context fields have states of their own shapes.
  if (change.flags !== undefined || !isObject(previousState) || typeof previousState.exists !== 'boolean') return;
  const state = previousState as unknown as UnleashFlagState;
  if (change.project !== undefined && !NOT_THROUGH_PROJECT.has(change.action)) {
    if (!state.exists) throw mismatch(`flag ${change.flagKey} is not in project ${change.project}`, { flag: change.flagKey, project: change.project });
    if (state.project !== change.project) {
      throw mismatch(`flag ${change.flagKey} is in project ${String(state.project)}, not ${change.project}`, { flag: change.flagKey, project: change.project });
    }
  }
  // Unleash copies a clone's source found by name in any project: it must be the path's project's flag.
  const cloneOf = isObject(change.newState) && typeof change.newState.cloneOf === 'string' ? change.newState.cloneOf : undefined;
  if (change.action === 'flag.create' && cloneOf !== undefined && (state.cloneOf?.exists !== true || state.cloneOf.project !== change.project)) {
    throw mismatch(`the flag to clone, ${cloneOf}, is not in project ${String(change.project)}`, { flag: cloneOf, project: change.project });
  }
  if (change.action === 'strategy.reorder') return requireOwnOrder(change, state);
  const owned = OWNED[change.action];
  if (owned === undefined) return;
  const id = isObject(change.newState) ? change.newState.id : undefined;
  if (typeof id !== 'string') throw new TypeError(`${change.action} without the id it names`);
  if (owned === 'strategy') {
    const env = change.environment;
    const strategies = env === undefined ? undefined : state.environments?.[env]?.strategies;
    if (strategies?.some((s) => s.id === id)) return;
    throw mismatch(`strategy ${id} is not one of flag ${change.flagKey}'s strategies in environment ${String(env)}`, { strategy: id, flag: change.flagKey, environment: env });
  }
  if (Array.isArray(state.links) && state.links.some((l) => isObject(l) && l.id === id)) return;
  throw mismatch(`link ${id} is not one of flag ${change.flagKey}'s links`, { link: id, flag: change.flagKey });
}

/** A new sort order names only strategies of the path's flag and environment (each is written by its id). */
function requireOwnOrder(change: FlagChange, state: UnleashFlagState): void {
  const order = isObject(change.newState) && Array.isArray(change.newState.order) ? (change.newState.order as Array<{ id: string }>) : [];
  const env = change.environment;
  const own = new Set((env === undefined ? [] : (state.environments?.[env]?.strategies ?? [])).map((s) => s.id));
  const stranger = order.find((o) => !own.has(o.id));
  if (stranger) throw mismatch(`strategy ${stranger.id} is not one of flag ${change.flagKey}'s strategies in environment ${String(env)}`, { strategy: stranger.id, flag: change.flagKey, environment: env });
}

function mismatch(message: string, details: Record<string, unknown>): FlaggateError {
  return new FlaggateError('ADAPT_TARGET_MISMATCH', message, { details });
}
