/**
 * The Unleash plug-in of the differential kit. Truth is Unleash's own event log (event search, read
 * with the admin token, bypassing flaggate). Each slot owns flags named `<tag>s<slot>-…`, so every
 * event names the slot, and so the variant, that caused it; events on any other name are strays.
 */
import { randomBytes } from 'node:crypto';
import { writeRoutes } from '../../../../src/platforms/unleash/routes.js';
import { unleashAdmin, type UnleashServer } from '../../unleash.js';
import type { DifferentialPlatform, Observation } from '../platform.js';
import { compareUnleash, type UnleashEvent } from './compare.js';
import { renderVariant } from './render.js';
import { arbUnleashSpec, describeSpec, type UnleashSpec } from './variants.js';

const FEATURES = '/api/admin/projects/default/features';
const ENVIRONMENTS = ['development', 'production'];
/** A flag with more strategies than this is replaced by a fresh one, so state reads stay small. */
const MAX_STRATEGIES = 6;

interface SlotModel {
  flag: string;
  status: 'live' | 'archived' | 'deleted';
  /** Strategy id → disabled, per environment. */
  strategies: Record<string, Map<string, boolean>>;
  names: number;
  /** A flag of the slot that is never the slot's own: the parent of its dependencies. */
  parent?: string;
}

export async function createUnleashDifferential(server: UnleashServer): Promise<DifferentialPlatform<UnleashSpec, UnleashEvent>> {
  const tag = `dk${randomBytes(2).toString('hex')}`;
  const slotOf = new RegExp(`^${tag}s(\\d+)-`);
  const slots = new Map<number, SlotModel>();
  const admin = (method: string, path: string, body?: unknown) => unleashAdmin(server, method, path, body);
  let cursor = await latestEventId(server);
  /** Events up to here were there before the run: never read. */
  const startedAt = cursor;
  const readFlag = async (flagKey: string): Promise<Record<string, unknown> | undefined> => {
    const res = await fetch(`${server.url}${FEATURES}/${encodeURIComponent(flagKey)}`, { headers: { authorization: server.adminToken } });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`reading ${flagKey}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Record<string, unknown>;
  };
  let resyncs = 0;

  const nextName = (slot: number, m: SlotModel | undefined, kind: string): string => {
    const n = m ? ++m.names : 0;
    return `${tag}s${slot}-${kind}${n}`;
  };

  async function freshFlag(slot: number, m: SlotModel): Promise<void> {
    const name = nextName(slot, m, 'f');
    await admin('POST', FEATURES, { name, type: 'release' });
    adopt(m, name);
  }

  async function ensureStrategy(m: SlotModel, env: string, disabled: boolean): Promise<void> {
    const list = m.strategies[env]!;
    if ([...list.values()].some((d) => d === disabled)) return;
    const created = await admin('POST', `${FEATURES}/${m.flag}/environments/${env}/strategies`, {
      name: 'flexibleRollout',
      disabled,
      parameters: { rollout: '50', stickiness: 'default', groupId: m.flag },
    });
    list.set(String(created.id), disabled);
  }

  /**
   * A slot whose model drifted from Unleash (a variant did something its events did not show in a
   * way the model follows) starts over on a fresh flag; the drift itself is judged by `compare`.
   */
  async function prepare(spec: UnleashSpec, slot: number) {
    try {
      return await prepareSlot(spec, slot);
    } catch (err) {
      resyncs++;
      if (resyncs <= 3) console.warn(`differential: slot ${slot} out of step (${(err as Error).message}); starting it on a fresh flag`);
      const m = slots.get(slot)!;
      m.status = 'deleted';
      return prepareSlot(spec, slot);
    }
  }

  async function prepareSlot(spec: UnleashSpec, slot: number) {
    let m = slots.get(slot);
    if (!m) {
      m = { flag: '', status: 'deleted', strategies: {}, names: 0 };
      slots.set(slot, m);
    }
    const route = writeRoutes[spec.route]!;
    const env = spec.environment;
    const knownEnv = ENVIRONMENTS.includes(env);
    const strategyCount = Object.values(m.strategies).reduce((n, s) => n + s.size, 0);
    if (route.action === 'flag.delete' || route.action === 'flag.revive') {
      if (m.status === 'deleted') await freshFlag(slot, m);
      if (m.status === 'live') {
        await admin('DELETE', `${FEATURES}/${m.flag}`);
        m.status = 'archived';
      }
    } else if (route.action !== 'flag.create' || route.pattern.endsWith('/clone')) {
      if (m.status === 'deleted' || strategyCount > MAX_STRATEGIES) await freshFlag(slot, m);
      if (m.status === 'archived') {
        await admin('POST', `/api/admin/archive/revive/${m.flag}`);
        m.status = 'live';
      }
      if (knownEnv && route.action === 'flag.enable') {
        await admin('POST', `${FEATURES}/${m.flag}/environments/${env}/off`);
        // A disabled strategy, so whether Unleash read the activation query shows in its events.
        await ensureStrategy(m, env, true);
      }
      if (knownEnv && route.action === 'flag.disable') await admin('POST', `${FEATURES}/${m.flag}/environments/${env}/on`);
      if (knownEnv && route.action.startsWith('strategy.') && route.action !== 'strategy.create') await ensureStrategy(m, env, false);
      // Two strategies, so a new order is a change.
      if (knownEnv && route.action === 'strategy.reorder') await ensureStrategy(m, env, true);
    }
    const flagPath = `${FEATURES}/${encodeURIComponent(m.flag)}`;
    const tagOld = `${tag}s${slot}-old`;
    let linkId = 'none';
    switch (route.action) {
      case 'variants.update':
        // Unleash takes environment variants only for flags that have some already.
        await admin('PUT', `${flagPath}/variants-batch`, { variants: [{ name: 'v0', weight: 1000, weightType: 'variable', stickiness: 'default' }], environments: ENVIRONMENTS });
        break;
      case 'dependency.add':
      case 'dependency.delete':
        if (!m.parent) {
          m.parent = `${tag}s${slot}-parent`;
          await admin('POST', FEATURES, { name: m.parent, type: 'release' });
        }
        if (route.action === 'dependency.delete') await admin('POST', `${flagPath}/dependencies`, { feature: m.parent });
        break;
      case 'flag.uncomplete':
        await admin('POST', `${flagPath}/lifecycle/complete`, { status: 'kept' });
        break;
      case 'flag.stale':
        // The opposite of what the variant asks, so the change shows as an event.
        await admin('POST', '/api/admin/projects/default/stale', { features: [m.flag], stale: !spec.fields.disabled });
        break;
      case 'link.update':
      case 'link.delete': {
        await admin('POST', `${flagPath}/link`, { url: `https://example.test/${nextName(slot, m, 'l')}` });
        const links = (await readFlag(m.flag))?.links;
        linkId = Array.isArray(links) && links.length > 0 ? String((links[links.length - 1] as { id: unknown }).id) : 'none';
        break;
      }
      case 'tag.update':
      case 'tag.delete': {
        const tags = (await admin('GET', `/api/admin/features/${encodeURIComponent(m.flag)}/tags`)).tags as Array<{ value: string }>;
        if (!tags.some((t) => t.value === tagOld)) await admin('POST', `/api/admin/features/${encodeURIComponent(m.flag)}/tags`, { type: 'simple', value: tagOld });
        break;
      }
    }
    let strategyIds = knownEnv ? [...(m.strategies[env]?.keys() ?? [])] : [];
    if (knownEnv && route.action === 'strategy.reorder') {
      // In Unleash's current order (it lists strategies by sort order), which the variant reverses.
      const envs = (await readFlag(m.flag))?.environments as Array<{ name: string; strategies: Array<{ id: string }> }> | undefined;
      strategyIds = envs?.find((e) => e.name === env)?.strategies.map((x) => x.id) ?? strategyIds;
    }
    return renderVariant(spec, {
      flag: m.flag || nextName(slot, m, 'f'),
      freshName: nextName(slot, m, 'c'),
      hiddenName: nextName(slot, m, 'h'),
      strategyId: strategyIds[0] ?? 'none',
      strategyIds,
      parent: m.parent ?? `${tag}s${slot}-parent`,
      linkId,
      tagOld,
      tagNew: nextName(slot, m, 't'),
    });
  }

  function adopt(m: SlotModel, name: string): void {
    m.flag = name;
    m.status = 'live';
    m.strategies = Object.fromEntries(ENVIRONMENTS.map((e) => [e, new Map<string, boolean>()]));
  }

  /** Keeps each slot's model in step with what Unleash did, whoever asked for it. */
  function follow(slot: number, e: UnleashEvent): void {
    const m = slots.get(slot);
    if (!m || e.featureName === null) return;
    if (e.featureName === m.parent) return;
    if (e.type === 'feature-created') return adopt(m, e.featureName);
    if (e.featureName !== m.flag) return;
    const list = e.environment ? m.strategies[e.environment] : undefined;
    switch (e.type) {
      case 'feature-archived':
        m.status = 'archived';
        break;
      case 'feature-revived':
        m.status = 'live';
        break;
      case 'feature-deleted':
        m.status = 'deleted';
        break;
      case 'feature-strategy-add':
      case 'feature-strategy-update':
        list?.set(String(e.data?.id), e.data?.disabled === true);
        break;
      case 'feature-strategy-remove':
        list?.delete(String(e.preData?.id));
        break;
    }
  }

  // Event ids come from a PostgreSQL sequence: two writes can commit out of id order, so an event
  // may become visible after a higher id was read. Each read reaches back below the highest id
  // seen, and skips only the ids already taken.
  const seen = new Set<number>();
  const REACH_BACK = 500;
  async function observe(): Promise<Observation<UnleashEvent>> {
    const events = (await eventsAfter(server, Math.max(startedAt, cursor - REACH_BACK))).filter((e) => !seen.has(e.id));
    const bySlot = new Map<number, UnleashEvent[]>();
    const stray: UnleashEvent[] = [];
    for (const e of events) {
      seen.add(e.id);
      cursor = Math.max(cursor, e.id);
      // Tagging a flag with a new value creates the tag first: that event names the value, not the flag.
      const owner = e.type === 'tag-created' && typeof e.data?.value === 'string' ? e.data.value : e.featureName;
      const hit = owner === null ? null : slotOf.exec(owner);
      if (!hit) {
        stray.push(e);
        continue;
      }
      const slot = Number(hit[1]);
      follow(slot, e);
      bySlot.set(slot, [...(bySlot.get(slot) ?? []), e]);
    }
    return { bySlot, stray };
  }

  return {
    name: 'unleash',
    variants: arbUnleashSpec,
    routeOf: (spec) => {
      const r = writeRoutes[spec.route]!;
      return `${r.method} ${r.pattern.replace('/api/admin/projects/:project/features', '…')}`;
    },
    describe: describeSpec,
    prepare,
    observe,
    compare: (view, events) => compareUnleash(view, events, readFlag),
    showFact: (e) => `#${e.id} ${e.type} ${e.featureName ?? '-'}${e.environment ? `@${e.environment}` : ''}`,
  };
}

async function latestEventId(server: UnleashServer): Promise<number> {
  const page = await unleashAdmin(server, 'GET', '/api/admin/search/events?limit=1&offset=0');
  const [latest] = page.events as UnleashEvent[];
  return latest?.id ?? 0;
}

/** Every event with an id above `after`, oldest first (event search pages newest first). */
async function eventsAfter(server: UnleashServer, after: number): Promise<UnleashEvent[]> {
  const out: UnleashEvent[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = (await unleashAdmin(server, 'GET', `/api/admin/search/events?limit=1000&offset=${offset}`)).events as UnleashEvent[];
    const fresh = page.filter((e) => e.id > after);
    out.push(...fresh);
    if (fresh.length < page.length || page.length < 1000) break;
  }
  return out.sort((a, b) => a.id - b.id);
}
