/**
 * Per-route comparison of a ledger entry with what Unleash recorded in its own event log for the
 * same slot: the action (event types), flag key, environment and the new state the entry claims.
 */
import { isDeepStrictEqual } from 'node:util';
import type { LedgerView } from '../platform.js';
import { ACTIVATE_KEY } from './render.js';

/** An Unleash event as its event search returns it. */
export interface UnleashEvent {
  id: number;
  type: string;
  featureName: string | null;
  project: string | null;
  environment: string | null;
  data: Record<string, unknown> | null;
  preData: Record<string, unknown> | null;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Same value once both are written as JSON (so `-0` and `0`, or key order, do not count). */
function sameJson(a: unknown, b: unknown): boolean {
  return isDeepStrictEqual(JSON.parse(JSON.stringify(a ?? null)), JSON.parse(JSON.stringify(b ?? null)));
}

/** Which Unleash event types each recorded action may produce; the first is required. */
const eventsOf: Record<string, { required: string; allowed: string[] }> = {
  'flag.create': { required: 'feature-created', allowed: [] },
  'flag.update': { required: 'feature-metadata-updated', allowed: [] },
  // Archiving a flag drops its own dependencies on parents (Unleash records that as its own event).
  'flag.archive': { required: 'feature-archived', allowed: ['feature-dependencies-removed'] },
  'flag.delete': { required: 'feature-deleted', allowed: [] },
  'flag.revive': { required: 'feature-revived', allowed: [] },
  // Enabling adds Unleash's default strategy to an environment without an active one.
  'flag.enable': { required: 'feature-environment-enabled', allowed: ['feature-strategy-add', 'feature-strategy-update'] },
  'flag.disable': { required: 'feature-environment-disabled', allowed: [] },
  'strategy.create': { required: 'feature-strategy-add', allowed: [] },
  // Unleash turns an environment off when its last active strategy goes.
  'strategy.update': { required: 'feature-strategy-update', allowed: ['feature-environment-disabled'] },
  'strategy.delete': { required: 'feature-strategy-remove', allowed: ['feature-environment-disabled'] },
  'strategy.reorder': { required: 'strategy-order-changed', allowed: [] },
  'variants.update': { required: 'feature-environment-variants-updated', allowed: [] },
  'dependency.add': { required: 'feature-dependency-added', allowed: [] },
  'flag.complete': { required: 'feature-completed', allowed: [] },
  'flag.uncomplete': { required: 'feature-uncompleted', allowed: [] },
  'link.create': { required: 'feature-link-added', allowed: [] },
  'link.update': { required: 'feature-link-updated', allowed: [] },
  'link.delete': { required: 'feature-link-removed', allowed: [] },
  'tag.add': { required: 'feature-tagged', allowed: [] },
  'tag.delete': { required: 'feature-untagged', allowed: [] },
};

/** The events an entry must show (type → how many) and the others it may. */
function expectedEvents(action: string, ns: Json): { counts: Record<string, number>; allowed: string[] } | undefined {
  switch (action) {
    case 'flag.create':
      // A clone copies the source's strategies, variants, tags and dependencies, each with its event.
      if (typeof ns.cloneOf === 'string') {
        return { counts: { 'feature-created': 1 }, allowed: ['feature-strategy-add', 'feature-environment-variants-updated', 'feature-tagged', 'feature-dependency-added'] };
      }
      break;
    case 'variants.update':
      return { counts: { 'feature-environment-variants-updated': Array.isArray(ns.environments) ? ns.environments.length : 1 }, allowed: [] };
    case 'dependency.delete':
      return { counts: { [ns.removed === '*' ? 'feature-dependencies-removed' : 'feature-dependency-removed']: 1 }, allowed: [] };
    case 'flag.stale':
      return { counts: { [ns.stale === true ? 'feature-stale-on' : 'feature-stale-off']: 1 }, allowed: [] };
    case 'tag.update':
      // Unleash records an event per tag as the body lists it (a tag named twice, twice): the tags
      // themselves are compared below, each once.
      return { counts: {}, allowed: ['feature-tagged', 'feature-untagged'] };
  }
  const spec = eventsOf[action];
  return spec && { counts: { [spec.required]: 1 }, allowed: spec.allowed };
}

/** Applies the replace operations of a JSON Patch to a copy of `doc` (the only op the kit sends). */
function applyReplaces(doc: Json, ops: unknown): Json {
  const out = structuredClone(doc);
  for (const op of Array.isArray(ops) ? ops : []) {
    if (!isObj(op) || op.op !== 'replace' || typeof op.path !== 'string') continue;
    const parts = op.path.split('/').slice(1);
    let at: Json = out;
    for (const p of parts.slice(0, -1)) at = (at[p] = isObj(at[p]) ? at[p] : {}) as Json;
    at[parts[parts.length - 1]!] = op.value;
  }
  return out;
}

/** The flag as Unleash holds it now; undefined when no live flag has that name. */
export type ReadFlag = (flagKey: string) => Promise<Json | undefined>;

/**
 * Differences between a ledger entry whose outcome is `applied` and what Unleash did: the slot's
 * events, then the flag's state read directly for the actions whose result shows there.
 */
export async function compareUnleash(view: LedgerView, events: readonly UnleashEvent[], readFlag: ReadFlag): Promise<string[]> {
  const diffs = compareEvents(view, events);
  if (diffs.length > 0 && events.length === 0 && view.decision.action === 'flag.update' && view.decision.flag_key !== null) {
    // Unleash records no event for an update that changes nothing: then the flag must already read as the entry says.
    const flag = await readFlag(view.decision.flag_key);
    return flag !== undefined && metadataAsRecorded(view, flag) ? [] : diffs;
  }
  return diffs.length > 0 ? diffs : compareState(view, await stateFor(view, readFlag));
}

function metadataAsRecorded(view: LedgerView, flag: Json): boolean {
  const ns = isObj(view.decision.new_state) ? view.decision.new_state : {};
  const want = Array.isArray(ns.patch) ? applyReplaces(flag, ns.patch) : ns;
  return sameJson(want.type ?? 'release', flag.type) && sameJson(want.description ?? null, flag.description ?? null) && sameJson(want.impressionData ?? false, flag.impressionData ?? false);
}

async function stateFor(view: LedgerView, readFlag: ReadFlag): Promise<Json | undefined | 'skip'> {
  const a = view.decision.action;
  if (a === 'flag.delete' || a === 'flag.revive' || view.decision.flag_key === null) return 'skip';
  return readFlag(view.decision.flag_key);
}

function compareState(view: LedgerView, flag: Json | undefined | 'skip'): string[] {
  if (flag === 'skip') return [];
  const d = view.decision;
  if (d.action === 'flag.archive') return flag === undefined ? [] : [`ledger says ${d.flag_key} archived, Unleash still serves it`];
  if (flag === undefined) return [`ledger says ${d.action} on ${d.flag_key}, Unleash has no such live flag`];
  const ns = isObj(d.new_state) ? d.new_state : {};
  const envs = Array.isArray(flag.environments) ? (flag.environments as Json[]) : [];
  const env = envs.find((e) => e.name === d.environment);
  switch (d.action) {
    case 'flag.enable':
    case 'flag.disable':
      return env?.enabled === (d.action === 'flag.enable') ? [] : [`ledger says ${d.action} in ${d.environment}, Unleash state enabled=${String(env?.enabled)}`];
    case 'flag.stale':
      return flag.stale === ns.stale ? [] : [`ledger says stale=${String(ns.stale)}, Unleash state stale=${String(flag.stale)}`];
    case 'flag.create':
      if (typeof ns.cloneOf === 'string') return [];
      if (flag.stale !== (ns.stale ?? false)) return [`ledger says stale ${JSON.stringify(ns.stale)}, Unleash state ${JSON.stringify(flag.stale)}`];
      return flag.type === (ns.type ?? 'release') ? [] : [`ledger says type ${JSON.stringify(ns.type)}, Unleash state ${JSON.stringify(flag.type)}`];
    case 'strategy.create':
    case 'strategy.update':
    case 'strategy.delete': {
      const strategies = Array.isArray(env?.strategies) ? (env.strategies as Json[]) : [];
      const ids = strategies.map((s) => s.id);
      if (d.action === 'strategy.delete') return ids.includes(ns.id) ? [`ledger says strategy ${String(ns.id)} deleted, Unleash still has it`] : [];
      if (d.action === 'strategy.update' && !Array.isArray(ns.patch)) {
        const s = strategies.find((x) => x.id === ns.id);
        return s && sameJson(s.parameters, ns.parameters) ? [] : [`ledger says strategy ${String(ns.id)} has parameters ${JSON.stringify(ns.parameters)}, Unleash state ${JSON.stringify(s?.parameters)}`];
      }
      return [];
    }
    default:
      return [];
  }
}

/**
 * The tags a tag change puts into the instance-wide catalogue (its `tag-created` events) are the
 * added tags the state read did not find there (`previous_state.catalogued`).
 */
function compareCatalogue(d: LedgerView['decision'], creates: readonly UnleashEvent[]): string[] {
  const key = (t: unknown) => (isObj(t) ? `${String(t.type)}:${String(t.value)}` : String(t));
  const previous = isObj(d.previous_state) ? d.previous_state : {};
  const held = new Set((Array.isArray(previous.catalogued) ? previous.catalogued : []).map(key));
  const ns = isObj(d.new_state) ? d.new_state : {};
  const want = (Array.isArray(ns.added) ? ns.added : []).map(key).filter((k) => !held.has(k)).sort();
  const got = creates.map((e) => key(e.data)).sort();
  return sameJson(want, got) ? [] : [`tags created in the catalogue: ledger ${JSON.stringify(want)}, Unleash ${JSON.stringify(got)}`];
}

function compareEvents(view: LedgerView, all: readonly UnleashEvent[]): string[] {
  const d = view.decision;
  const diffs: string[] = [];
  // A tag value used for the first time is created (an event without a flag) before it is attached.
  const creates = all.filter((e) => e.type === 'tag-created');
  const events = all.filter((e) => e.type !== 'tag-created');
  if (creates.length > 0 && d.action !== 'tag.add' && d.action !== 'tag.update') diffs.push(`${creates.length} tag-created events, ledger says ${d.action}`);
  if (d.action === 'tag.add' || d.action === 'tag.update') diffs.push(...compareCatalogue(d, creates));
  const ns = isObj(d.new_state) ? d.new_state : {};
  const spec = expectedEvents(d.action, ns);
  if (!spec) return [`ledger action ${d.action} has no comparison`];
  const perEnvironment = d.environment !== null && d.environment !== '*';
  for (const e of events) {
    if (e.featureName !== d.flag_key) diffs.push(`event ${e.id} ${e.type} on flag ${e.featureName}, ledger says ${d.flag_key}`);
    if (d.project !== null && e.project !== d.project) diffs.push(`event ${e.id} in project ${e.project}, ledger says ${d.project}`);
    if (perEnvironment && e.environment !== d.environment) diffs.push(`event ${e.id} ${e.type} in environment ${e.environment}, ledger says ${d.environment}`);
    if (spec.counts[e.type] === undefined && !spec.allowed.includes(e.type)) diffs.push(`event ${e.id} ${e.type}, ledger says ${d.action}`);
  }
  for (const [type, want] of Object.entries(spec.counts)) {
    const got = events.filter((e) => e.type === type).length;
    if (got !== want) diffs.push(`${got} ${type} events for ledger action ${d.action}, ${want} expected`);
  }
  if (diffs.length > 0) return diffs;
  const main = events.filter((e) => spec.counts[e.type] !== undefined);
  const event = main[0];
  if (!event) return diffs;
  const data = event.data ?? {};
  const field = (name: string, want: unknown, got: unknown): void => {
    if (!sameJson(want, got)) diffs.push(`${name}: ledger ${JSON.stringify(want)}, Unleash ${JSON.stringify(got)}`);
  };
  switch (d.action) {
    case 'flag.create':
      field('name', d.flag_key, data.name);
      if (typeof ns.cloneOf === 'string') break;
      field('type', ns.type ?? 'release', data.type);
      field('description', ns.description || null, data.description);
      field('impressionData', ns.impressionData ?? false, data.impressionData);
      field('stale', ns.stale ?? false, data.stale);
      break;
    case 'flag.update': {
      const want = Array.isArray(ns.patch) ? applyReplaces(event.preData ?? {}, ns.patch) : ns;
      field('type', want.type ?? 'release', data.type);
      field('description', want.description ?? null, data.description);
      field('impressionData', want.impressionData ?? false, data.impressionData);
      break;
    }
    case 'strategy.create':
    case 'strategy.update': {
      if (d.action === 'strategy.update') field('strategy id', ns.id, data.id);
      // A full update records no `title` or `disabled` where Unleash keeps the strategy's own (sent
      // as null or left out): the event's earlier strategy says what it kept.
      const kept = d.action === 'strategy.update' ? { title: event.preData?.title, disabled: event.preData?.disabled } : {};
      const want = Array.isArray(ns.patch) ? applyReplaces(event.preData ?? {}, ns.patch) : { ...kept, ...ns };
      field('strategy name', want.name, data.name);
      field('parameters', want.parameters, data.parameters);
      // Unleash stores a null `disabled` as sent, and reads it as not disabled, as an absent one.
      field('disabled', want.disabled ?? false, data.disabled ?? false);
      field('title', want.title ?? null, data.title);
      const constraints = (c: unknown): unknown =>
        (Array.isArray(c) ? c : []).map((x: Json) => ({ contextName: x.contextName, operator: x.operator, values: x.values }));
      field('constraints', constraints(want.constraints), constraints(data.constraints));
      break;
    }
    case 'strategy.delete':
      field('strategy id', ns.id, event.preData?.id);
      break;
    case 'strategy.reorder': {
      const order = (Array.isArray(ns.order) ? (ns.order as Json[]) : []).slice().sort((a, b) => Number(a.sortOrder) - Number(b.sortOrder)).map((x) => x.id);
      const unleash = Array.isArray(data.strategyIds) ? data.strategyIds.filter((id) => order.includes(id)) : null;
      field('strategy order', order, unleash);
      break;
    }
    case 'variants.update':
      for (const e of main) {
        const want = Array.isArray(ns.patch) ? applyReplaces((e.preData?.variants ?? []) as unknown as Json, ns.patch) : ns.variants;
        field(`variant names in ${e.environment}`, variantNames(want), variantNames(e.data?.variants));
      }
      break;
    case 'dependency.add':
      field('parent', ns.parent, data.feature);
      field('enabled', ns.enabled, data.enabled);
      break;
    case 'dependency.delete':
      if (ns.removed !== '*') field('parent', ns.removed, data.feature);
      break;
    case 'flag.complete':
      field('status', ns.status, data.status);
      break;
    case 'link.create':
    case 'link.update':
      field('url', ns.url, data.url);
      // An update without a title keeps the link's own.
      field('title', Object.hasOwn(ns, 'title') ? (ns.title ?? null) : (event.preData?.title ?? null), data.title ?? null);
      break;
    case 'tag.add':
    case 'tag.update':
    case 'tag.delete': {
      const tags = (type: string, from: 'data' | 'preData') => [...new Set(events.filter((e) => e.type === type).map((e) => `${String(e[from]?.type)}:${String(e[from]?.value)}`))].sort();
      const listed = (v: unknown) => (Array.isArray(v) ? (v as Json[]) : []).map((t) => `${String(t.type)}:${String(t.value)}`).sort();
      field('tags added', listed(ns.added), tags('feature-tagged', 'data'));
      field('tags removed', listed(ns.removed), tags('feature-untagged', 'preData'));
      break;
    }
    case 'flag.enable': {
      // The query's activation flag: Unleash re-enables disabled strategies only when it reads 'true'.
      const query = isObj(ns.query) ? ns.query : {};
      const ledgerActivates = query[ACTIVATE_KEY] === 'true' || query[ACTIVATE_KEY] === true;
      const unleashActivated = events.some((e) => e.type === 'feature-strategy-update' && e.preData?.disabled === true && e.data?.disabled === false);
      const hadDisabled = previousStrategies(d.previous_state, d.environment).some((s) => isObj(s) && s.disabled === true);
      if (hadDisabled && ledgerActivates !== unleashActivated) {
        diffs.push(`activation of disabled strategies: ledger ${ledgerActivates}, Unleash ${unleashActivated}`);
      }
      break;
    }
    default:
      break;
  }
  return diffs;
}

function variantNames(list: unknown): unknown[] {
  return (Array.isArray(list) ? list : Object.values(isObj(list) ? list : {})).map((v) => (isObj(v) ? v.name : v));
}

function previousStrategies(previous: unknown, environment: string | null): unknown[] {
  if (!isObj(previous) || !isObj(previous.environments) || environment === null) return [];
  const env = previous.environments[environment];
  return isObj(env) && Array.isArray(env.strategies) ? env.strategies : [];
}
