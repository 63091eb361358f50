/**
 * The features a GrowthBook change reaches through prerequisites. A feature whose `prerequisites`
 * name another is served only where that one evaluates to true, in every environment; a rule whose
 * `prerequisites` name it applies only where that one meets the rule's condition, in the rule's
 * environment. So whatever changes what a feature serves in an environment changes what its
 * dependents serve there. They are read with the feature's state (`dependents`), and reach lists
 * them with the change (`../dependents.ts`).
 */
import { isJsonObject, type JsonObject } from '../request/index.js';
import { ALL_ENVIRONMENTS } from './classify.js';

/** A feature that depends on the changed one, and where: `['*']` for a feature-level prerequisite. */
export interface GrowthBookDependent {
  id: string;
  environments: string[];
}

/** Where `feature` depends on the feature `id`, or undefined when it does not. */
export function dependsOn(feature: JsonObject, id: string): GrowthBookDependent | undefined {
  if (typeof feature.id !== 'string' || feature.id === id) return undefined;
  if (namesPrerequisite(feature.prerequisites, id)) return { id: feature.id, environments: [ALL_ENVIRONMENTS] };
  const environments = Object.entries(isJsonObject(feature.environments) ? feature.environments : {})
    .filter(([, settings]) => isJsonObject(settings) && Array.isArray(settings.rules) && settings.rules.some((rule) => isJsonObject(rule) && namesPrerequisite(rule.prerequisites, id)))
    .map(([env]) => env)
    .sort();
  return environments.length > 0 ? { id: feature.id, environments } : undefined;
}

/** A prerequisite list names `id`: as a feature id (a feature's own list) or as `{id, condition}` (a rule's). */
function namesPrerequisite(list: unknown, id: string): boolean {
  return Array.isArray(list) && list.some((p) => p === id || (isJsonObject(p) && p.id === id));
}
