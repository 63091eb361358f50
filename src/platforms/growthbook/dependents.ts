/**
 * The features a GrowthBook change reaches through prerequisites. A feature whose `prerequisites`
 * name another is served only where that one evaluates to true, in every environment; a rule whose
 * `prerequisites` name it applies only where that one meets the rule's condition, in the rule's
 * environment. So whatever changes what a feature serves in an environment changes what its
 * dependents serve there, and theirs in turn. They are read with the feature's state
 * (`dependents`), and reach lists them with the change (`../dependents.ts`).
 */
import { addDependent, type DependentIndex } from '../dependents.js';
import { isJsonObject, type JsonObject } from '../request/index.js';
import { ALL_ENVIRONMENTS } from './classify.js';

/** A feature that depends on the changed one, and where: `['*']` for a feature-level prerequisite. */
export interface GrowthBookDependent {
  id: string;
  environments: string[];
}

/** Adds to `index` every prerequisite `feature` names: its own (every environment) and its rules' (their environment). */
export function indexPrerequisites(index: DependentIndex, feature: JsonObject): void {
  if (typeof feature.id !== 'string') return;
  for (const on of prerequisiteIds(feature.prerequisites)) addDependent(index, on, feature.id, [ALL_ENVIRONMENTS]);
  for (const [env, settings] of Object.entries(isJsonObject(feature.environments) ? feature.environments : {})) {
    const rules = isJsonObject(settings) && Array.isArray(settings.rules) ? settings.rules : [];
    for (const rule of rules) if (isJsonObject(rule)) for (const on of prerequisiteIds(rule.prerequisites)) addDependent(index, on, feature.id, [env]);
  }
}

/** The feature ids a prerequisite list names: as ids (a feature's own list) or as `{id, condition}` (a rule's). */
function prerequisiteIds(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  return list.flatMap((p) => (typeof p === 'string' ? [p] : isJsonObject(p) && typeof p.id === 'string' ? [p.id] : []));
}
