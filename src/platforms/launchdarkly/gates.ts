/**
 * What a flag serves in an environment depends on more than its own configuration: on each
 * prerequisite flag there (a flag serves its off variation unless every prerequisite is on and
 * serves the variation named), and on each segment its rules match (who is in it). Either can change
 * on LaunchDarkly while a change is held; recorded with the state read, a change of them makes the
 * held change stale at approval instead of applied on what nobody decided on.
 */
import { isObject } from './classify.js';

type Json = Record<string, unknown>;
type Get = (path: string) => Promise<Json | undefined>;

/** A prerequisite flag as it serves in one environment (null: the project has no such flag). */
export type PrerequisiteState = { on: unknown; offVariation: unknown; fallthrough: unknown; rules: unknown; targets: unknown; contextTargets: unknown; prerequisites: unknown; variations: unknown } | null;

/** A segment as LaunchDarkly holds it in one environment (null: there is no such segment). Each change raises its `version`. */
export type SegmentState = { name: unknown; version: unknown; deleted: unknown; rules: unknown; unbounded: unknown; included: number; excluded: number } | null;

export interface Gates {
  /** By environment, then prerequisite key. */
  prerequisiteFlags?: Record<string, Record<string, PrerequisiteState>>;
  /** By environment, then segment key. */
  segments?: Record<string, Record<string, SegmentState>>;
}

/** At most this many segments read for one change; more is refused by the caller's error. */
export const MAX_GATES = 50;

/**
 * The prerequisites and segments of `environments` (the flag's configuration there, as read) and
 * those the change names (`newState`, in any of the three patch forms), each in that environment:
 * a prerequisite from `listed` (the project's flags with that environment's configuration), a
 * segment read.
 */
export async function readGates(
  get: Get,
  project: string,
  environments: Record<string, { rules: unknown[]; prerequisites: unknown[] }>,
  listed: ReadonlyMap<string, readonly Json[]>,
  newState: unknown,
  tooMany: (n: number) => Error,
): Promise<Gates> {
  const named = keysNamed(newState);
  const gates: Gates = {};
  let reads = 0;
  for (const [env, config] of Object.entries(environments)) {
    const prerequisites = [...new Set([...config.prerequisites.filter(isObject).map((p) => p.key), ...named.prerequisites])].filter((k): k is string => typeof k === 'string').sort();
    const segments = [...new Set([...segmentKeys(config.rules), ...named.segments])].sort();
    reads += segments.length;
    if (reads > MAX_GATES) throw tooMany(reads);
    // The prerequisites are among the project's flags already listed with this environment's configuration.
    const flags = new Map((listed.get(env) ?? []).filter((f) => typeof f.key === 'string').map((f) => [f.key as string, f]));
    for (const key of prerequisites) ((gates.prerequisiteFlags ??= {})[env] ??= {})[key] = prerequisiteIn(flags.get(key), env);
    for (const key of segments) ((gates.segments ??= {})[env] ??= {})[key] = segmentOf(await get(`/api/v2/segments/${encodeURIComponent(project)}/${encodeURIComponent(env)}/${encodeURIComponent(key)}`));
  }
  return gates;
}

function prerequisiteIn(flag: Json | undefined, env: string): PrerequisiteState {
  const config = flag && isObject(flag.environments) ? flag.environments[env] : undefined;
  if (!flag || !isObject(config)) return null;
  const { on, offVariation, fallthrough, rules, targets, contextTargets, prerequisites } = config;
  const variations = Array.isArray(flag.variations) ? flag.variations.filter(isObject).map((v) => ({ _id: v._id, value: v.value })) : [];
  return { on: on === true, offVariation: offVariation ?? null, fallthrough: fallthrough ?? null, rules: rules ?? [], targets: targets ?? [], contextTargets: contextTargets ?? [], prerequisites: prerequisites ?? [], variations };
}

function segmentOf(segment: Json | undefined): SegmentState {
  if (!segment) return null;
  const count = (list: unknown) => (Array.isArray(list) ? list.length : 0);
  return {
    name: segment.name ?? null, version: segment.version ?? null, deleted: segment.deleted === true, rules: segment.rules ?? [], unbounded: segment.unbounded === true,
    included: count(segment.included) + count(segment.includedContexts), excluded: count(segment.excluded) + count(segment.excludedContexts),
  };
}

/** The segment keys of `segmentMatch` clauses anywhere in `value` (rules, instructions, patch values). */
function segmentKeys(value: unknown): string[] {
  const keys: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isObject(v)) return;
    if (v.op === 'segmentMatch' && Array.isArray(v.values)) keys.push(...v.values.filter((k): k is string => typeof k === 'string'));
    Object.values(v).forEach(visit);
  };
  visit(value);
  return keys;
}

/**
 * The prerequisite and segment keys a change names: a prerequisite in a `prerequisites` list (a
 * merge patch, `replacePrerequisites`), in an instruction about one (`addPrerequisite`,
 * `updatePrerequisite`), or in the value of a JSON Patch operation on a `/prerequisites` path.
 */
function keysNamed(newState: unknown): { prerequisites: string[]; segments: string[] } {
  const prerequisites: string[] = [];
  const keyOf = (p: unknown) => (isObject(p) && typeof p.key === 'string' ? [p.key] : []);
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isObject(v)) return;
    if (Array.isArray(v.prerequisites)) prerequisites.push(...v.prerequisites.flatMap(keyOf));
    if (typeof v.kind === 'string' && /Prerequisite$/.test(v.kind)) prerequisites.push(...keyOf(v));
    if (typeof v.path === 'string' && v.path.includes('/prerequisites')) prerequisites.push(...(Array.isArray(v.value) ? v.value.flatMap(keyOf) : keyOf(v.value)));
    Object.values(v).forEach(visit);
  };
  visit(newState);
  return { prerequisites, segments: segmentKeys(newState) };
}
