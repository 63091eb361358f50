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
  if (change.flags !== undefined && isObject(previousState) && isObject(previousState.flags)) requireBatchTargets(change, previousState.flags);
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
  // Unleash revives a flag it finds by name without asking whether it is archived, switching it off
  // everywhere: a live flag (read from the archive, it is not there) would be switched off unseen.
  if (change.action === 'flag.revive' && !(state.exists && state.archived === true)) {
    throw mismatch(`flag ${change.flagKey} is not archived: Unleash would switch it off in every environment`, { flag: change.flagKey });
  }
  // Unleash deletes only an archived flag, and answers 200 for any other: the entry would record a
  // deletion that did not happen (of a live flag, or of none).
  if (change.action === 'flag.delete' && !(state.exists && state.archived === true)) {
    throw mismatch(`flag ${change.flagKey} is not archived: Unleash deletes archived flags only, and would answer as if it had deleted it`, { flag: change.flagKey });
  }
  // Unleash stores a flag's completion once (a second is ignored, though its event says otherwise).
  if (change.action === 'flag.complete' && isObject(state.lifecycle) && state.lifecycle.stage === 'completed') {
    throw mismatch(`flag ${change.flagKey} is already completed, and Unleash keeps its first completion: uncomplete it first`, { flag: change.flagKey });
  }
  // A flag that is not there has no tags to add to: Unleash answers 404, which needs no refusal here.
  if ((change.action === 'tag.add' || change.action === 'tag.update') && state.exists) requireKnownTagTypes(change, state);
  // Unleash stores a strategy in an environment the flag's project does not have, unseen by every
  // read, and serves it once the project has that environment again.
  if (change.action === 'strategy.create' && change.environment !== undefined && !Object.hasOwn(state.environments ?? {}, change.environment)) {
    throw mismatch(`flag ${change.flagKey} has no environment ${change.environment} in project ${String(change.project)}: Unleash would keep the strategy there unseen, and serve it once the environment is back`, {
      flag: change.flagKey,
      environment: change.environment,
    });
  }
  if (change.action === 'strategy.reorder') return requireOwnOrder(change, state);
  if (change.action === 'dependency.add') return requireSoleParent(change, state);
  if (change.action === 'strategy.update' || change.action === 'strategy.delete') requireEnvironmentKept(change, state);
  if (change.action === 'strategy.update') requireRolloutKept(change, state);
  if (change.action === 'variants.update') {
    requirePatchApplies(change, state);
    requireVariantEnvironments(change, state);
  }
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

/** Batches Unleash applies to the archived flags they name only, skipping the others without a word. */
const ARCHIVE_BATCHES = new Set(['flag.delete', 'flag.revive']);

/**
 * Batches Unleash applies to the flags it finds by name, skipping a name it lacks without a word:
 * an archive skips archived flags too, and a stale marks an archived flag as well (read through the
 * path's project, an archived flag is not there).
 */
const LIVE_BATCHES = new Set(['flag.archive', 'flag.stale']);

/**
 * Every flag a batch names is one it applies to: in the archive for a delete or revive, live in the
 * path's project for an archive or stale (each state read that way). Else the entry would claim
 * what Unleash skips, or Unleash would change a flag the entry records as not there.
 */
function requireBatchTargets(change: FlagChange, states: Record<string, unknown>): void {
  const archive = ARCHIVE_BATCHES.has(change.action);
  if (!archive && !LIVE_BATCHES.has(change.action)) return;
  const verb = { 'flag.delete': 'delete', 'flag.revive': 'revive', 'flag.archive': 'archive', 'flag.stale': 'stale' }[change.action as string];
  for (const target of change.flags ?? []) {
    const state = states[target.flagKey];
    const there = isObject(state) && state.exists === true;
    if (archive && !(there && state.archived === true)) {
      throw mismatch(`flag ${target.flagKey} is not archived, and Unleash's ${verb} of several flags skips it without a word: name archived flags only`, { flag: target.flagKey });
    }
    if (!archive && !(there && state.archived !== true && state.project === change.project)) {
      throw mismatch(`flag ${target.flagKey} is not a live flag of project ${String(change.project)}, and Unleash's ${verb} of several flags would skip it or change it unseen: name live flags of the project only`, {
        flag: target.flagKey,
        project: change.project,
      });
    }
  }
}

/** A new sort order names only strategies of the path's flag and environment (each is written by its id). */
function requireOwnOrder(change: FlagChange, state: UnleashFlagState): void {
  const order = isObject(change.newState) && Array.isArray(change.newState.order) ? (change.newState.order as Array<{ id: string }>) : [];
  const env = change.environment;
  const own = new Set((env === undefined ? [] : (state.environments?.[env]?.strategies ?? [])).map((s) => s.id));
  const stranger = order.find((o) => !own.has(o.id));
  if (stranger) throw mismatch(`strategy ${stranger.id} is not one of flag ${change.flagKey}'s strategies in environment ${String(env)}`, { strategy: stranger.id, flag: change.flagKey, environment: env });
}

/**
 * Unleash keeps one parent per flag: adding a dependency deletes the flag's others first. A new
 * parent while another is there would remove that dependency unseen, so it is refused; remove the
 * old one first (`dependency.delete`, its own decision).
 */
function requireSoleParent(change: FlagChange, state: UnleashFlagState): void {
  const parent = isObject(change.newState) ? change.newState.parent : undefined;
  const others = (Array.isArray(state.dependencies) ? state.dependencies : []).map((d: unknown) => (isObject(d) ? d.feature : d)).filter((p) => p !== parent);
  if (others.length === 0) return;
  throw mismatch(`flag ${change.flagKey} depends on ${others.join(', ')}: Unleash keeps one parent and would remove that dependency; delete it first`, {
    flag: change.flagKey,
    parents: others,
  });
}

/**
 * Unleash switches an environment off when a strategy update or delete leaves it only disabled
 * strategies (or none). That would be a `flag.disable` nobody decided: refused; switch the
 * environment off first.
 */
function requireEnvironmentKept(change: FlagChange, state: UnleashFlagState): void {
  const env = change.environment;
  const environment = env === undefined ? undefined : state.environments?.[env];
  if (environment?.enabled !== true || environment.strategies === undefined) return;
  const ns = isObject(change.newState) ? change.newState : {};
  const remaining = environment.strategies.flatMap((s) => {
    if (s.id !== ns.id) return [s.disabled === true];
    if (change.action === 'strategy.delete') return [];
    return [disabledAfter(ns, s.disabled === true)];
  });
  if (remaining.some((disabled) => !disabled)) return;
  throw mismatch(`this leaves flag ${change.flagKey} no active strategy in environment ${String(env)}, and Unleash would switch the environment off: switch it off first`, {
    flag: change.flagKey,
    environment: env,
  });
}

/**
 * Unleash stores a flexible rollout left without a `rollout` parameter as 100%, without a
 * stickiness as sticky on the project's default, without a group as grouped by the flag's name. A
 * patch that leaves a flexible rollout (one it makes, or one it keeps) without any of them would be
 * stored otherwise than its entry says: refused.
 */
function requireRolloutKept(change: FlagChange, state: UnleashFlagState): void {
  const ns = isObject(change.newState) ? change.newState : {};
  if (!Array.isArray(ns.patch)) return;
  const strategy = change.environment === undefined ? undefined : state.environments?.[change.environment]?.strategies?.find((s) => s.id === ns.id);
  if (!strategy) return;
  // The strategy's name and parameters as the patch leaves them (./classify.ts refuses these
  // removed, or copied or moved in, so writes in order are all that changes them).
  let name: unknown = strategy.name;
  let parameters: unknown = strategy.parameters;
  for (const op of ns.patch as Array<Record<string, unknown>>) {
    if (op.op !== 'add' && op.op !== 'replace') continue;
    if (op.path === '/name') name = op.value;
    else if (op.path === '/parameters') parameters = op.value;
    else if (typeof op.path === 'string' && op.path.startsWith('/parameters/') && isObject(parameters)) parameters = { ...parameters, [op.path.slice('/parameters/'.length)]: op.value };
  }
  if (name !== 'flexibleRollout') return;
  const params = isObject(parameters) ? parameters : {};
  const where = { strategy: ns.id, flag: change.flagKey, environment: change.environment };
  if (params.rollout === undefined) throw mismatch(`strategy ${String(ns.id)} would be a flexible rollout without a rollout, which Unleash stores as 100%: write /parameters/rollout`, where);
  // Unleash fills in an empty stickiness with the project's default and an empty group with the
  // flag's name: the patch would say one thing and the strategy another.
  if (!params.stickiness) throw mismatch(`strategy ${String(ns.id)} would be a flexible rollout without a stickiness, which Unleash sets to the project's default: write /parameters/stickiness`, where);
  if (!params.groupId) throw mismatch(`strategy ${String(ns.id)} would be a flexible rollout without a group, which Unleash sets to the flag's name: write /parameters/groupId`, where);
}

/**
 * A JSON Patch of an environment's variants is recorded with the list Unleash stores once it
 * applies to the variants read (`previous_state.environments.<env>.storedAfterPatch`): one that
 * does not apply to them, or leaves a weight that is not an integer, is refused.
 */
function requirePatchApplies(change: FlagChange, state: UnleashFlagState): void {
  const ns = isObject(change.newState) ? change.newState : {};
  const env = change.environment === undefined ? undefined : state.environments?.[change.environment];
  if (!Array.isArray(ns.patch) || env === undefined || env.storedAfterPatch !== null) return;
  throw mismatch(`this patch does not apply to the variants of flag ${change.flagKey} in environment ${String(change.environment)} as read, or leaves a weight that is not an integer (Unleash would sum it as text)`, {
    flag: change.flagKey,
    environment: change.environment,
  });
}

/**
 * Unleash writes a variants batch into the environments the flag has, and only records an event for
 * one it lacks: every environment the entry names must be one the state read shows.
 */
function requireVariantEnvironments(change: FlagChange, state: UnleashFlagState): void {
  const named = isObject(change.newState) && Array.isArray(change.newState.environments) ? (change.newState.environments as unknown[]) : [];
  const lacking = named.find((env) => typeof env !== 'string' || !Object.hasOwn(state.environments ?? {}, env));
  if (lacking !== undefined) throw mismatch(`flag ${change.flagKey} has no environment ${String(lacking)}, where Unleash would write no variants`, { flag: change.flagKey, environment: lacking });
}

/** Whether a strategy update leaves the strategy disabled: a PUT without `disabled`, or a patch not writing it, keeps what it was. */
function disabledAfter(ns: Record<string, unknown>, before: boolean): boolean {
  if (Array.isArray(ns.patch)) {
    let disabled = before;
    for (const op of ns.patch as Array<Record<string, unknown>>) {
      if (op.op === 'test' || (op.path !== '' && op.path !== '/disabled' && op.from !== '/disabled')) continue;
      // Anything but a boolean written in place (a whole document, a copy, a removal) is read as disabled: the stricter way.
      disabled = (op.op === 'add' || op.op === 'replace') && op.path === '/disabled' && typeof op.value === 'boolean' ? op.value : true;
    }
    return disabled;
  }
  return typeof ns.disabled === 'boolean' ? ns.disabled : before;
}

function mismatch(message: string, details: Record<string, unknown>): FlaggateError {
  return new FlaggateError('ADAPT_TARGET_MISMATCH', message, { details });
}

/**
 * Unleash adds a change's tags one by one, then removes: a tag of a type it does not have fails
 * after the others were added and before anything is removed, while the answer says the change
 * failed. Refused before it is sent.
 */
function requireKnownTagTypes(change: FlagChange, state: UnleashFlagState): void {
  const added = isObject(change.newState) && Array.isArray(change.newState.added) ? change.newState.added : [];
  const known = new Set(state.tagTypes ?? []);
  for (const tag of added) {
    if (isObject(tag) && typeof tag.type === 'string' && !known.has(tag.type)) {
      throw mismatch(`tag type ${JSON.stringify(tag.type)} does not exist: Unleash would add the change's other tags and then fail`, { flag: change.flagKey, tagType: tag.type });
    }
  }
}
