/**
 * An Unleash import (`POST /api/admin/features-batch/import`) as one decision over every flag it
 * names. Unleash applies an import per flag: create the flag or overwrite its type, description and
 * impression data; remove every strategy of the import's environment and add the payload's; set the
 * environment on or off; rewrite its variants there; remove every tag of the flag. Those parts are
 * read from Unleash before the decision (each flag's previous state) and decided; the parts whose
 * effect Unleash decides while applying them, or that reach beyond the named flags, are refused:
 * segments (remapped by name mid-import), tags and tag types (instance-wide catalogue), dependencies,
 * links, context fields that do not exist yet (created instance-wide), archived flags (skipped
 * silently), strategies or environments of flags the import does not name. Any key flaggate does not
 * know is refused as malformed, since Unleash would apply what the entry does not show.
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange, FlagTarget } from '../platform.js';
import { onlyKeys } from '../request/index.js';
import { isObject, rolloutOf, storedConstraints, type JsonObject } from './body.js';
import { storedVariants } from './variant-weights.js';
import { PLATFORM } from './classify.js';
import { isUsableName } from './routes.js';

export const IMPORT_ACTION = 'flag.import';

const TOP_KEYS = ['project', 'environment', 'data'];
const DATA_KEYS = ['features', 'featureStrategies', 'featureEnvironments', 'contextFields', 'featureTags', 'segments', 'tagTypes', 'dependencies', 'links'];
// An unedited Unleash export also carries each feature's `stale` and `archived` and each
// strategy's `id`: taken where they say what the import stores anyway (not stale, not archived;
// new strategy ids).
const FEATURE_KEYS = ['name', 'type', 'description', 'impressionData', 'project', 'stale', 'archived'];
const STRATEGY_KEYS = ['featureName', 'name', 'title', 'parameters', 'constraints', 'variants', 'segments', 'disabled', 'sortOrder', 'id'];
const ENVIRONMENT_KEYS = ['name', 'featureName', 'environment', 'enabled', 'variants'];
const CONTEXT_KEYS = ['name', 'description', 'legalValues', 'stickiness', 'project'];
/** Parts of an import that are refused whenever they are not empty, and why. */
const REFUSED_PARTS: Record<string, string> = {
  segments: 'its strategies\' segments are remapped by name while Unleash applies it; set segments through the strategy routes',
  featureTags: 'it carries tags; tag each flag through /api/admin/features/{featureName}/tags',
  tagTypes: 'it creates tag types instance-wide',
  dependencies: 'it carries dependencies; add them through /api/admin/projects/{projectId}/features/{featureName}/dependencies',
  links: 'it carries links; add them through /api/admin/projects/{projectId}/features/{featureName}/link',
};

/** What one flag of an import asks for: its metadata and, in the import's environment, its strategies. */
export interface ImportedFlag {
  /** As Unleash stores it: an absent type is `release`, absent impression data `false`. */
  type: string;
  /** As Unleash stores it: an absent or empty description is none, also on a flag that had one. */
  description: string | null;
  impressionData: boolean;
  /** Unleash's update resets it: an imported flag is not stale. */
  stale: false;
  /** Every strategy of the environment is replaced by these. */
  strategies: JsonObject[];
  /** Absent: the environment's on/off is left as it is. */
  enabled?: boolean;
  /** Absent or empty: the environment's variants are left as they are. */
  variants?: unknown[];
}

export interface ImportRequest {
  project: string;
  environment: string;
  flags: Record<string, ImportedFlag>;
  /** Context fields the payload names: each must exist already (checked against Unleash). */
  contextFields: string[];
}

/** Refused by design: a part of an import flaggate cannot decide faithfully. */
export function importRefused(why: string): FlaggateError {
  return new FlaggateError('ADAPT_WRITE_UNRECOGNIZED', `importToggles is refused by design: ${why}`, { details: { operation: 'importToggles' } });
}

function malformed(field: string, want: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', `${field} must be ${want}`, { details: { field } });
}

function name(value: unknown, field: string): string {
  if (typeof value !== 'string' || !isUsableName(value)) throw malformed(field, 'a usable name');
  return value;
}

function list(value: unknown, field: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw malformed(field, 'an array');
  return value;
}

/** Reads an import payload strictly; throws ADAPT_BODY_MALFORMED or a refusal by design. */
export function parseImport(body: JsonObject): ImportRequest {
  const top = onlyKeys(body, TOP_KEYS);
  const project = name(top.project, 'project');
  const environment = name(top.environment, 'environment');
  if (!isObject(top.data)) throw malformed('data', 'an object');
  const data = onlyKeys(top.data, DATA_KEYS);
  for (const [part, why] of Object.entries(REFUSED_PARTS)) {
    if (list(data[part], `data.${part}`).length > 0) throw importRefused(why);
  }
  const flags = parseFeatures(data.features, project);
  parseStrategies(data.featureStrategies, flags);
  parseEnvironments(data.featureEnvironments, flags, environment);
  const contextFields = list(data.contextFields, 'data.contextFields').map((c, i) => name(onlyKeys(c, CONTEXT_KEYS).name, `data.contextFields[${i}].name`));
  return { project, environment, flags, contextFields: [...new Set(contextFields)].sort() };
}

function parseFeatures(value: unknown, project: string): Record<string, ImportedFlag> {
  const features = list(value, 'data.features');
  if (features.length === 0) throw malformed('data.features', 'a non-empty array');
  const flags: Record<string, ImportedFlag> = {};
  features.forEach((f, i) => {
    const feature = onlyKeys(f, FEATURE_KEYS);
    const key = name(feature.name, `data.features[${i}].name`);
    if (flags[key]) throw malformed(`data.features[${i}].name`, 'named once');
    if (feature.project !== undefined && feature.project !== project) throw malformed(`data.features[${i}].project`, 'the import\'s project');
    for (const member of ['stale', 'archived'] as const) {
      if (feature[member] !== undefined && feature[member] !== false) throw malformed(`data.features[${i}].${member}`, 'absent or false (an import stores a flag live and not stale)');
    }
    const flag: ImportedFlag = { type: 'release', description: null, impressionData: false, stale: false, strategies: [] };
    if (feature.type !== undefined) flag.type = name(feature.type, `data.features[${i}].type`);
    if (feature.description !== undefined && feature.description !== null) {
      if (typeof feature.description !== 'string') throw malformed(`data.features[${i}].description`, 'a string');
      flag.description = feature.description || null;
    }
    if (feature.impressionData !== undefined) {
      if (typeof feature.impressionData !== 'boolean') throw malformed(`data.features[${i}].impressionData`, 'a boolean');
      flag.impressionData = feature.impressionData;
    }
    flags[key] = flag;
  });
  return flags;
}

/** Every strategy names a flag of the import: Unleash would add the others to flags nobody decided on. */
function parseStrategies(value: unknown, flags: Record<string, ImportedFlag>): void {
  list(value, 'data.featureStrategies').forEach((s, i) => {
    const strategy = onlyKeys(s, STRATEGY_KEYS);
    const at = `data.featureStrategies[${i}]`;
    const flag = flags[name(strategy.featureName, `${at}.featureName`)];
    if (!flag) throw importRefused(`${at} names a flag the import does not list in data.features`);
    name(strategy.name, `${at}.name`);
    if (list(strategy.segments, `${at}.segments`).length > 0) throw importRefused(REFUSED_PARTS.segments!);
    if (strategy.parameters !== undefined && !isObject(strategy.parameters)) throw malformed(`${at}.parameters`, 'an object');
    list(strategy.constraints, `${at}.constraints`);
    const variants = list(strategy.variants, `${at}.variants`);
    const { featureName: _flag, segments: _segments, id: _id, ...rest } = strategy;
    // As Unleash stores them: constraints with their values list, variants reweighted (none as an
    // empty list), a flexible rollout without one at 100, grouped by the flag.
    rest.constraints = storedConstraints(strategy.constraints ?? []);
    rest.variants = storedVariants(variants);
    if (isObject(strategy.parameters) && strategy.parameters.rollout !== undefined) rest.rollout = rolloutOf(strategy.parameters.rollout, `${at}.parameters.rollout`);
    else if (strategy.name === 'flexibleRollout') rest.rollout = 100;
    if (strategy.name === 'flexibleRollout' && !(isObject(strategy.parameters) && strategy.parameters.groupId)) rest.parameters = { ...(isObject(strategy.parameters) ? strategy.parameters : {}), groupId: strategy.featureName };
    // Without a stickiness it takes the project's default, which the entry could not show.
    if (strategy.name === 'flexibleRollout' && !(isObject(strategy.parameters) && strategy.parameters.stickiness)) {
      throw malformed(`${at}.parameters.stickiness`, `set on a flexible rollout ("default" unless the project sets another): Unleash takes the project's default stickiness for one left empty`);
    }
    flag.strategies.push(rest);
  });
  for (const [key, flag] of Object.entries(flags)) requireStrategyOrder(key, flag.strategies);
}

/**
 * Unleash adds an import's strategies in parallel: those without a sort order all get the same
 * one, and ties are served in the order of their new ids, which the entry cannot show. A flag
 * with two strategies or more must give each a sort order of its own.
 */
function requireStrategyOrder(key: string, strategies: JsonObject[]): void {
  // A lone strategy without one is stored first: the import removed the environment's others.
  if (strategies.length === 1 && strategies[0]!.sortOrder === undefined) strategies[0]!.sortOrder = 0;
  if (strategies.length < 2) return;
  const orders = strategies.map((s) => s.sortOrder);
  if (!orders.every((o) => typeof o === 'number' && Number.isInteger(o)) || new Set(orders).size !== orders.length) {
    throw malformed(`data.featureStrategies of ${key}.sortOrder`, 'an integer on each of the flag\'s strategies, none repeated: Unleash adds them in parallel, and orders ties by the ids it makes');
  }
}

/**
 * Unleash reads the flag of an environment entry from `name` to switch it on or off, and from
 * `featureName` to keep the entry and write its variants: both must name the same flag of the import.
 */
function parseEnvironments(value: unknown, flags: Record<string, ImportedFlag>, environment: string): void {
  list(value, 'data.featureEnvironments').forEach((e, i) => {
    const entry = onlyKeys(e, ENVIRONMENT_KEYS);
    const at = `data.featureEnvironments[${i}]`;
    const key = name(entry.name, `${at}.name`);
    // Unleash drops an entry without `featureName` before applying the import.
    if (entry.featureName !== key) throw malformed(`${at}.featureName`, 'the same flag as name');
    if (entry.environment !== undefined && entry.environment !== environment) throw malformed(`${at}.environment`, 'the import\'s environment');
    const flag = flags[key];
    if (!flag) throw importRefused(`${at} names a flag the import does not list in data.features`);
    if (typeof entry.enabled !== 'boolean') throw malformed(`${at}.enabled`, 'a boolean');
    if (flag.enabled !== undefined) throw malformed(`${at}.name`, 'named once');
    flag.enabled = entry.enabled;
    // Switched on with no active strategy, Unleash adds the project's default strategy, which the
    // entry could not show (an enable through …/environments/{environment}/on records it).
    if (entry.enabled && !flag.strategies.some((st) => st.disabled !== true)) {
      throw importRefused(`${at} switches ${key} on without an active strategy, and Unleash would add the project's default strategy: import one, or switch the flag on through /api/admin/projects/{projectId}/features/{featureName}/environments/{environment}/on`);
    }
    const variants = list(entry.variants, `${at}.variants`);
    if (variants.length > 0) flag.variants = storedVariants(variants);
  });
}

/** The change an import asks for: one decision over every flag it names, each in the import's environment. */
export function importChange(parsed: ImportRequest, request: FlagChange['request']): FlagChange {
  const keys = Object.keys(parsed.flags).sort();
  const flags: FlagTarget[] = keys.map((flagKey) => ({ flagKey, project: parsed.project, environments: [parsed.environment] }));
  return {
    platform: PLATFORM,
    action: IMPORT_ACTION,
    flagKey: keys.join(','),
    project: parsed.project,
    environment: parsed.environment,
    environments: [parsed.environment],
    flags,
    newState: {
      environment: parsed.environment,
      flags: Object.fromEntries(keys.map((k) => [k, { ...parsed.flags[k], tags: [] }])),
      contextFields: parsed.contextFields,
    },
    request,
  };
}
