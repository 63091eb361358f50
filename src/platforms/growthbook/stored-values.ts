/**
 * Where GrowthBook stores a body otherwise than it reads (its `validateFeatureValue` in
 * `shared/src/util/features.ts`, and the rule converter in `back-end/src/services/features.ts`):
 * - a boolean feature's values: any string other than "true" and "false" is stored as "true" when
 *   it is not empty ("0", "off", "FALSE" serve true) and as "false" when it is;
 * - a JSON feature's values: text that is not JSON is repaired by dirty-json and stored as what it
 *   guessed (`{"a": 1} {"a": 2}` as `{"a": 1}`, `true false` as `true`);
 * - a rule is rebuilt from a fixed list of members by its type, the others dropped: a force rule's
 *   `coverage` (then served to everyone), an experiment-ref rule's `condition` and saved groups (it
 *   takes the experiment's), an experiment rule's `condition`, `namespace` and the rest, after
 *   which it includes everyone; an empty `savedGroups` wins over `savedGroupTargeting`, and
 *   `allProjects: true` over `projects`.
 * The entry records the body, so a body GrowthBook would store otherwise is refused.
 */
import { isDeepStrictEqual } from 'node:util';
import { FlaggateError } from '../../errors.js';
import { isJsonObject } from '../request/index.js';

const SCOPE_AND_STATE = ['type', 'id', 'enabled', 'description', 'allProjects', 'projects', 'prerequisites', 'scheduleRules'];
/**
 * The members GrowthBook keeps of each rule type. An experiment's `condition` only when it targets
 * no one; its variations as `values`, or as `value` (the older name, which its GET still writes).
 */
const KEPT = new Map<unknown, ReadonlySet<string>>([
  ['force', new Set([...SCOPE_AND_STATE, 'value', 'condition', 'savedGroups', 'savedGroupTargeting', 'sparse'])],
  ['rollout', new Set([...SCOPE_AND_STATE, 'value', 'condition', 'savedGroups', 'savedGroupTargeting', 'sparse', 'coverage', 'hashAttribute', 'seed', 'hashVersion'])],
  ['experiment-ref', new Set([...SCOPE_AND_STATE, 'experimentId', 'variations', 'sparse'])],
  ['experiment', new Set([...SCOPE_AND_STATE, 'hashAttribute', 'coverage', 'trackingKey', 'values', 'value', 'condition'])],
]);
/** The members GrowthBook keeps of a list's items (its schemas strip the others). */
const ITEM_KEPT: Record<string, ReadonlySet<string>> = {
  variations: new Set(['variationId', 'value']), // of an experiment-ref rule
  values: new Set(['value', 'weight', 'name']), // of an experiment rule, as `values`
  value: new Set(['value', 'weight', 'name']), // or as `value`
  prerequisites: new Set(['id', 'condition']),
  savedGroupTargeting: new Set(['matchType', 'savedGroups']),
  savedGroups: new Set(['match', 'ids']), // refused by GrowthBook otherwise, after a read: refused here first
};

/** Throws ADAPT_BODY_MALFORMED for a value GrowthBook would store as another, by the feature's type. */
export function refuseRetypedValues(body: unknown, valueType: unknown): void {
  const check = valueType === 'boolean' ? requireBoolean : valueType === 'json' ? requireJson : undefined;
  if (check === undefined || !isJsonObject(body)) return;
  if (body.defaultValue !== undefined) check(body.defaultValue, 'defaultValue');
  for (const [env, rule, i] of rulesOf(body)) {
    const at = `environments.${env}.rules[${i}]`;
    if (rule.value !== undefined && !Array.isArray(rule.value)) check(rule.value, `${at}.value`);
    for (const list of ['variations', 'values', 'value'] as const) {
      const items = rule[list];
      if (Array.isArray(items)) items.forEach((v, j) => isJsonObject(v) && v.value !== undefined && check(v.value, `${at}.${list}[${j}].value`));
    }
  }
}

/** Throws ADAPT_BODY_MALFORMED for a rule carrying members GrowthBook drops or overrides. */
export function refuseDroppedRuleMembers(body: unknown): void {
  for (const [env, rule, i] of rulesOf(body)) {
    const at = `environments.${env}.rules[${i}]`;
    const kept = KEPT.get(rule.type);
    if (kept === undefined) continue; // GrowthBook refuses another type before it writes
    if (rule.type === 'experiment') refuseExperimentTargeting(rule, at);
    const dropped = Object.keys(rule).find((k) => !kept.has(k) && !asReadBack(k, rule) && !(rule.type === 'experiment' ? isEmpty(rule[k]) : isNoTargeting(k, rule[k])));
    if (dropped !== undefined) throw malformed(`${at}.${dropped}`, `GrowthBook drops it from ${rule.type === 'force' || rule.type === 'rollout' ? 'a' : 'an'} ${rule.type} rule${advice(rule.type, dropped)}`);
    for (const list of Object.keys(ITEM_KEPT)) {
      const items = rule[list];
      const ofType = list === 'variations' ? 'experiment-ref' : list === 'values' || list === 'value' ? 'experiment' : rule.type;
      if (!Array.isArray(items) || rule.type !== ofType) continue;
      items.forEach((item, j) => {
        const stray = isJsonObject(item) ? Object.keys(item).find((k) => !ITEM_KEPT[list]!.has(k)) : undefined;
        if (stray !== undefined) throw malformed(`${at}.${list}[${j}].${stray}`, `GrowthBook keeps only ${[...ITEM_KEPT[list]!].join(' and ')} of each item`);
      });
    }
    // GrowthBook takes the first of each pair that is there; both, unless both empty, would record one it drops.
    for (const [first, second] of [['savedGroups', 'savedGroupTargeting'], ['values', 'value']] as const) {
      if (Object.hasOwn(rule, first) && Object.hasOwn(rule, second) && !(isEmptyList(rule[first]) && isEmptyList(rule[second])) && !sameSavedGroups(rule, first)) {
        throw malformed(`${at}.${second}`, `give ${first} or ${second}, not both: GrowthBook takes ${first}, even an empty one, and drops the other`);
      }
    }
    if (rule.allProjects === true && Object.hasOwn(rule, 'projects')) throw malformed(`${at}.projects`, 'GrowthBook drops projects beside allProjects: true');
  }
}

/** An experiment rule's `condition` is dropped: one that targets anyone would include everyone. */
function refuseExperimentTargeting(rule: Record<string, unknown>, at: string): void {
  const condition = rule.condition;
  if (!(condition === undefined || condition === '' || condition === '{}')) throw malformed(`${at}.condition`, `GrowthBook drops it from an experiment rule, which then includes everyone${advice('experiment', 'condition')}`);
}

function advice(type: unknown, member: string): string {
  if (type === 'experiment') return '; target with an experiment-ref rule';
  if (type === 'experiment-ref' && ['condition', 'savedGroups', 'savedGroupTargeting'].includes(member)) return ', which takes the experiment\'s targeting: target in the experiment';
  if (member === 'allEnvironments' || member === 'environments') return ' and sets a rule\'s environments itself (those that inherit, or all of them): leave it out';
  return '';
}

function rulesOf(body: unknown): Array<[string, Record<string, unknown>, number]> {
  if (!isJsonObject(body) || !isJsonObject(body.environments)) return [];
  return Object.entries(body.environments).flatMap(([env, settings]) =>
    isJsonObject(settings) && Array.isArray(settings.rules) ? settings.rules.flatMap((rule, i) => (isJsonObject(rule) ? [[env, rule, i] as [string, Record<string, unknown>, number]] : [])) : [],
  );
}

/** An experiment's member whose loss changes no targeting: absent, off, zero, empty, or a namespace not enabled. */
function isEmpty(value: unknown): boolean {
  if (isJsonObject(value)) return value.enabled === false;
  return value === undefined || value === null || value === false || value === '' || value === 0 || (Array.isArray(value) && value.length === 0);
}

/** A dropped targeting member that targets no one (as a client posting back what it read sends): its loss changes nothing. */
function isNoTargeting(member: string, value: unknown): boolean {
  if (member === 'condition') return value === '' || value === '{}';
  return (member === 'savedGroups' || member === 'savedGroupTargeting') && isEmptyList(value);
}

/**
 * A member of a rule as GrowthBook's GETs write it (the feature's rules spread as stored, or as a
 * revision shows them) that a v1 write drops and that says what GrowthBook then does: `scheduleType`
 * `none` or `schedule` (its UI's hint; `scheduleRules` schedule), and a force or experiment-ref
 * rule's `coverage: 1`. Not `allEnvironments` or `environments`: GrowthBook sets a rule's scope
 * itself (to the environments that inherit, or to all of them once it covers every one), so a
 * scope in the body could say otherwise than what it stores.
 */
function asReadBack(member: string, rule: Record<string, unknown>): boolean {
  const value = rule[member];
  if (member === 'scheduleType') return value === 'none' || value === 'schedule';
  return member === 'coverage' && value === 1 && (rule.type === 'force' || rule.type === 'experiment-ref');
}

/** Whether `savedGroups` and `savedGroupTargeting` name the same groups, as GrowthBook's GET writes both. */
function sameSavedGroups(rule: Record<string, unknown>, first: string): boolean {
  if (first !== 'savedGroups' || !Array.isArray(rule.savedGroups) || !Array.isArray(rule.savedGroupTargeting)) return false;
  const stored = rule.savedGroups.map((g) => (isJsonObject(g) ? { matchType: g.match, savedGroups: g.ids } : g));
  return isDeepStrictEqual(stored, rule.savedGroupTargeting);
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}

function requireBoolean(value: unknown, field: string): void {
  if (value === 'true' || value === 'false') return;
  throw malformed(field, 'must be "true" or "false" for a boolean feature (GrowthBook stores any other text as "true" or "false")');
}

function requireJson(value: unknown, field: string): void {
  if (typeof value !== 'string') return; // GrowthBook's schema refuses it before it writes
  try {
    JSON.parse(value);
  } catch {
    throw malformed(field, 'must be JSON text for a JSON feature (GrowthBook repairs other text with dirty-json and stores what it guessed)');
  }
}

function malformed(field: string, why: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', `${field}: ${why}`, { details: { field } });
}
