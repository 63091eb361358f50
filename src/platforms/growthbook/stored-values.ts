/**
 * Two places where GrowthBook stores a body otherwise than it reads:
 * - a boolean feature's values: any string other than "true" and "false" is stored as "true" when
 *   it is not empty ("0", "off", "FALSE" serve true) and as "false" when it is
 *   (`shared/src/util/features.ts`, through `validateFeatureValue`);
 * - an `experiment` rule, rebuilt from a fixed list of members (`services/features.ts`): its
 *   `condition`, `savedGroups`, `namespace`, `fallbackAttribute`, bucket versions and sticky
 *   bucketing are dropped, and it then includes everyone.
 * The entry records the body, so a body GrowthBook would store otherwise is refused.
 */
import { FlaggateError } from '../../errors.js';
import { isJsonObject } from '../request/index.js';

/** The members GrowthBook keeps of an `experiment` rule (its `condition` only when it targets no one). */
const EXPERIMENT_KEPT = new Set(['type', 'id', 'hashAttribute', 'coverage', 'trackingKey', 'enabled', 'description', 'values', 'prerequisites', 'scheduleRules', 'condition', 'allProjects', 'projects']);

/** Throws ADAPT_BODY_MALFORMED for a value of a boolean feature other than "true" or "false". */
export function refuseBooleanSpellings(body: unknown, valueType: unknown): void {
  if (valueType !== 'boolean' || !isJsonObject(body)) return;
  if (body.defaultValue !== undefined) requireBoolean(body.defaultValue, 'defaultValue');
  for (const [env, rule, i] of rulesOf(body)) {
    const at = `environments.${env}.rules[${i}]`;
    if (rule.value !== undefined) requireBoolean(rule.value, `${at}.value`);
    for (const list of ['variations', 'values'] as const) {
      const items = rule[list];
      if (Array.isArray(items)) items.forEach((v, j) => isJsonObject(v) && v.value !== undefined && requireBoolean(v.value, `${at}.${list}[${j}].value`));
    }
  }
}

/** Throws ADAPT_BODY_MALFORMED for an `experiment` rule carrying members GrowthBook drops. */
export function refuseDroppedExperimentMembers(body: unknown): void {
  for (const [env, rule, i] of rulesOf(body)) {
    if (rule.type !== 'experiment') continue;
    const dropped = Object.keys(rule).find((k) => !EXPERIMENT_KEPT.has(k) && !isEmpty(rule[k]));
    const condition = rule.condition;
    if (dropped !== undefined || !(condition === undefined || condition === '' || condition === '{}')) {
      const field = `environments.${env}.rules[${i}].${dropped ?? 'condition'}`;
      throw new FlaggateError('ADAPT_BODY_MALFORMED', `${field}: GrowthBook drops it from an experiment rule, which then includes everyone; target with an experiment-ref rule`, { details: { field } });
    }
  }
}

function rulesOf(body: unknown): Array<[string, Record<string, unknown>, number]> {
  if (!isJsonObject(body) || !isJsonObject(body.environments)) return [];
  return Object.entries(body.environments).flatMap(([env, settings]) =>
    isJsonObject(settings) && Array.isArray(settings.rules) ? settings.rules.flatMap((rule, i) => (isJsonObject(rule) ? [[env, rule, i] as [string, Record<string, unknown>, number]] : [])) : [],
  );
}

/** A member whose loss changes no targeting: absent, off, zero, empty, or a namespace not enabled. */
function isEmpty(value: unknown): boolean {
  if (isJsonObject(value)) return value.enabled === false;
  return value === undefined || value === null || value === false || value === '' || value === 0 || (Array.isArray(value) && value.length === 0);
}

function requireBoolean(value: unknown, field: string): void {
  if (value === 'true' || value === 'false') return;
  throw new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be "true" or "false" for a boolean feature (GrowthBook stores any other text as "true" or "false")`, { details: { field } });
}
