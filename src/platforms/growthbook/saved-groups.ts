/**
 * The saved groups a GrowthBook feature's rules serve through: a rule's `savedGroups` (and the
 * deprecated `savedGroupTargeting` it replaces), and `$inGroup` / `$notInGroup` in its condition.
 * Who a group holds (its values, or its own condition, which may name further groups) decides whom
 * the rule serves, and a group can change on GrowthBook while a change is held; recorded with the
 * state read, a change of it makes the held change stale at approval instead of applied unseen.
 */
import { isJsonObject, type JsonObject } from '../request/index.js';

type Get = (path: string) => Promise<JsonObject | undefined>;

/** A saved group as GrowthBook holds it (null: there is no such group). */
export type SavedGroupState = { type: unknown; attributeKey: unknown; values: unknown; condition: unknown; archived: unknown; dateUpdated: unknown } | null;

/** At most this many groups read for one change (groups naming groups included). */
export const MAX_SAVED_GROUPS = 50;

/** Every saved group `value` (rules, a change's body) names, and those the named groups name in turn. */
export async function readSavedGroups(get: Get, value: unknown, tooMany: (n: number) => Error): Promise<Record<string, SavedGroupState>> {
  const groups: Record<string, SavedGroupState> = {};
  const waiting = [...savedGroupIds(value)];
  while (waiting.length > 0) {
    const id = waiting.shift()!;
    if (Object.hasOwn(groups, id)) continue;
    if (Object.keys(groups).length >= MAX_SAVED_GROUPS) throw tooMany(Object.keys(groups).length + waiting.length + 1);
    const body = await get(`/api/v1/saved-groups/${encodeURIComponent(id)}`);
    const group = body && isJsonObject(body.savedGroup) ? body.savedGroup : undefined;
    groups[id] = group ? { type: group.type ?? null, attributeKey: group.attributeKey ?? null, values: group.values ?? null, condition: group.condition ?? null, archived: group.archived === true, dateUpdated: group.dateUpdated ?? null } : null;
    if (group) waiting.push(...conditionGroups(group.condition));
  }
  return Object.fromEntries(Object.keys(groups).sort().map((id) => [id, groups[id]!]));
}

/** The group ids under `value`: rules' `savedGroups` and `savedGroupTargeting`, and their conditions' groups. */
export function savedGroupIds(value: unknown): string[] {
  const ids: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isJsonObject(v)) return;
    if (Array.isArray(v.savedGroups)) ids.push(...v.savedGroups.flatMap((g) => (isJsonObject(g) && Array.isArray(g.ids) ? strings(g.ids) : typeof g === 'string' ? [g] : [])));
    if (Array.isArray(v.savedGroupTargeting)) ids.push(...v.savedGroupTargeting.flatMap((g) => (isJsonObject(g) && Array.isArray(g.savedGroups) ? strings(g.savedGroups) : [])));
    if (typeof v.condition === 'string') ids.push(...conditionGroups(v.condition));
    Object.values(v).forEach(visit);
  };
  visit(value);
  return [...new Set(ids)];
}

/** The groups a condition (JSON text, as GrowthBook keeps it) names with `$inGroup` or `$notInGroup`. */
function conditionGroups(condition: unknown): string[] {
  if (typeof condition !== 'string' || !condition.includes('Group')) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(condition);
  } catch {
    return [];
  }
  const ids: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isJsonObject(v)) return;
    for (const [key, inner] of Object.entries(v)) {
      if ((key === '$inGroup' || key === '$notInGroup') && typeof inner === 'string') ids.push(inner);
      else visit(inner);
    }
  };
  visit(parsed);
  return ids;
}

function strings(list: unknown[]): string[] {
  return list.filter((x): x is string => typeof x === 'string');
}
