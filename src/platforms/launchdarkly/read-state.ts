/**
 * Reads a flag's state from LaunchDarkly (`GET /api/v2/flags/{project}/{flag}`, restricted to the
 * change's environment when it names one) and reduces it to what a policy needs, with the flags
 * that depend on it there (from the project's flag list, `GET /api/v2/flags/{project}`).
 */
import { FlaggateError } from '../../errors.js';
import type { FlagChange } from '../platform.js';
import { fetchState } from '../request/index.js';
import { addDependent, dependentsOf, type DependentIndex } from '../dependents.js';
import { ALL_ENVIRONMENTS, isObject, PLATFORM } from './classify.js';
import { canChangeServing } from './serving.js';
import { MAX_GATES, readGates, type Gates } from './gates.js';

export interface ReadStateOptions {
  baseUrl: string;
  token: string;
  timeoutMs: number;
}

export interface LaunchDarklyEnvironmentState {
  on: boolean;
  archived?: boolean;
  offVariation?: unknown;
  fallthrough?: unknown;
  rules: unknown[];
  targets: unknown[];
  contextTargets: unknown[];
  prerequisites: unknown[];
}

/** The compact state recorded as `previousState`; with what the flag's serving depends on (`Gates`) for a change that can alter it. */
export interface LaunchDarklyFlagState extends Gates {
  exists: boolean;
  key?: string;
  name?: string;
  kind?: string;
  archived?: boolean;
  deprecated?: boolean;
  variations?: Json[];
  environments?: Record<string, LaunchDarklyEnvironmentState>;
  /**
   * The flags that name this one as a prerequisite, each with the environments it does so in (of
   * those read): what this flag serves there decides what they serve. Recorded only when there are any.
   */
  dependents?: Array<{ key: string; environments: string[] }>;
}

type Json = Record<string, unknown>;

export async function readLaunchDarklyState(opts: ReadStateOptions, change: FlagChange): Promise<LaunchDarklyFlagState> {
  if (change.platform !== PLATFORM) throw new TypeError(`not a LaunchDarkly change: ${change.platform}`);
  if (change.project === undefined) throw new TypeError(`${change.action} without a project`);
  const env = change.environment !== undefined && change.environment !== ALL_ENVIRONMENTS ? change.environment : undefined;
  const path = `/api/v2/flags/${encodeURIComponent(change.project)}/${encodeURIComponent(change.flagKey)}${env ? `?env=${encodeURIComponent(env)}` : ''}`;
  const body = await getJson(opts, path);
  if (body === undefined) return { exists: false };
  const environments: Record<string, LaunchDarklyEnvironmentState> = {};
  for (const [name, config] of Object.entries(isObject(body.environments) ? body.environments : {})) {
    if (env !== undefined && name !== env) continue;
    if (!isObject(config)) throw unavailable(`unexpected environment ${name} in ${path}`);
    environments[name] = {
      on: config.on === true,
      ...(typeof config.archived === 'boolean' ? { archived: config.archived } : {}),
      offVariation: config.offVariation ?? null,
      fallthrough: config.fallthrough ?? null,
      rules: Array.isArray(config.rules) ? config.rules : [],
      targets: Array.isArray(config.targets) ? config.targets : [],
      contextTargets: Array.isArray(config.contextTargets) ? config.contextTargets : [],
      prerequisites: Array.isArray(config.prerequisites) ? config.prerequisites : [],
    };
  }
  if (typeof body.key !== 'string' || !Array.isArray(body.variations)) throw unavailable(`unexpected flag body from ${path}`);
  // A change to what describes the flag alone changes what no dependent serves.
  const serving = canChangeServing(change);
  // The project's flags in each environment read, listed once: who depends on this flag, and the state of those it depends on.
  const listed = new Map<string, Json[]>();
  if (serving) for (const env of Object.keys(environments)) listed.set(env, await listFlags(opts, change.project, env));
  const dependents = serving ? dependentsIn(listed, change.flagKey) : [];
  const tooMany = (n: number) => unavailable(`the change reaches ${n} segments, more than the ${MAX_GATES} flaggate reads for one change`);
  const gates = serving ? await readGates((p) => getJson(opts, p), change.project, environments, listed, change.newState, tooMany) : {};
  return {
    exists: true,
    key: body.key,
    name: String(body.name),
    kind: String(body.kind),
    archived: body.archived === true,
    deprecated: body.deprecated === true,
    variations: (body.variations as unknown[]).filter(isObject).map((v) => definedOnly({ _id: v._id, value: v.value, name: v.name })),
    environments,
    ...(dependents.length > 0 ? { dependents } : {}),
    ...gates,
  };
}

/** The largest page of flags asked for. */
const PAGE = 100;
/** Pages read in one environment before the listing is refused as endless (100,000 flags). */
const MAX_PAGES = 1000;

/**
 * Every flag of the project whose serving depends on `key` in one of `environments`, directly or
 * through a chain of prerequisites: the project's flags listed with their environment's
 * configuration (`summary=false&env=`, a page at a time, in each environment), since a flag's
 * prerequisites are set per environment.
 */
function dependentsIn(listed: ReadonlyMap<string, Json[]>, key: string): Array<{ key: string; environments: string[] }> {
  const index: DependentIndex = new Map();
  for (const [env, flags] of listed) {
    for (const flag of flags) {
      const config = isObject(flag.environments) ? flag.environments[env] : undefined;
      const prerequisites = isObject(config) && Array.isArray(config.prerequisites) ? config.prerequisites : [];
      for (const p of prerequisites) if (isObject(p) && typeof p.key === 'string' && typeof flag.key === 'string') addDependent(index, p.key, flag.key, [env]);
    }
  }
  return dependentsOf(key, index).map((d) => ({ key: d.flagKey, environments: d.environments }));
}

/**
 * The project's flags with `env`'s configuration, every page: each from the offset the flags read
 * so far reach, until the listing's `totalCount` (or an empty page); a page that adds nothing
 * before the total, or too many pages, is refused rather than taken as the end.
 */
async function listFlags(opts: ReadStateOptions, project: string, env: string): Promise<Json[]> {
  const flags: Json[] = [];
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const path = `/api/v2/flags/${encodeURIComponent(project)}?env=${encodeURIComponent(env)}&summary=false&limit=${PAGE}&offset=${flags.length}`;
    const body = await getJson(opts, path);
    const items = body?.items;
    const total = body?.totalCount;
    if (!Array.isArray(items) || typeof total !== 'number') throw unavailable(`LaunchDarkly sent an unexpected body for ${path}`);
    flags.push(...items.filter(isObject));
    if (flags.length >= total) return flags;
    if (items.length === 0) throw unavailable(`LaunchDarkly listed ${flags.length} of ${total} flags and then none: ${path}`);
  }
  throw unavailable(`LaunchDarkly listed more than ${MAX_PAGES} pages of flags in project ${project}`);
}

/** The parsed flag, or undefined when LaunchDarkly says it is not there (`not_found`); anything else is an error. */
async function getJson(opts: ReadStateOptions, path: string): Promise<Json | undefined> {
  const body = await fetchState(
    { platform: 'LaunchDarkly', baseUrl: opts.baseUrl, authorization: opts.token, timeoutMs: opts.timeoutMs, isNotFound: (b) => isObject(b) && b.code === 'not_found' },
    path,
  );
  if (body !== undefined && !isObject(body)) throw unavailable(`LaunchDarkly sent an unexpected body for ${path}`);
  return body;
}

/** The ledger records JSON: a field LaunchDarkly leaves out is left out, not recorded as undefined. */
function definedOnly<T extends Json>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function unavailable(message: string, cause?: unknown, details: Record<string, unknown> = {}): FlaggateError {
  return new FlaggateError('ADAPT_STATE_UNAVAILABLE', message, { cause, details });
}
