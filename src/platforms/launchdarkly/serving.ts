/**
 * Whether a LaunchDarkly change can alter what its flag serves. One that writes only what describes
 * the flag (its name, description, tags, maintainer, custom properties, temporary or permanent)
 * serves as before, so no flag that depends on it serves otherwise: its dependents are not read.
 * Anything else, or anything not recognized as such, can.
 */
import type { FlagChange } from '../platform.js';
import { isObject } from './classify.js';

/** The flag's descriptive fields, as a JSON Patch or merge patch writes them. */
const DESCRIPTIVE_FIELDS = new Set(['name', 'description', 'tags', 'temporary', 'maintainerId', 'maintainerTeamKey', 'customProperties']);
/** The semantic patch instructions that write only those fields. */
const DESCRIPTIVE_INSTRUCTIONS = new Set([
  'addTags', 'removeTags', 'updateName', 'updateDescription', 'updateMaintainerMember', 'updateMaintainerTeam', 'removeMaintainer',
  'addCustomProperties', 'removeCustomProperties', 'replaceCustomProperties', 'makeFlagPermanent', 'makeFlagTemporary',
]);

const firstStep = (pointer: unknown) => (typeof pointer === 'string' ? pointer.split('/')[1] : undefined);
const descriptive = (pointer: unknown) => pointer === undefined || DESCRIPTIVE_FIELDS.has(firstStep(pointer) ?? '');

export function canChangeServing(change: FlagChange): boolean {
  const state = isObject(change.newState) ? change.newState : {};
  if (Array.isArray(state.instructions)) return !state.instructions.every((i) => isObject(i) && DESCRIPTIVE_INSTRUCTIONS.has(String(i.kind)));
  if (Array.isArray(state.patch)) return !state.patch.every((op) => isObject(op) && typeof op.path === 'string' && op.path !== '' && descriptive(op.path) && descriptive(op.from));
  if (isObject(state.merge)) return !Object.keys(state.merge).every((k) => DESCRIPTIVE_FIELDS.has(k));
  return true;
}
