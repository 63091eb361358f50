/**
 * What an Unleash write will store, as its entry's `new_state`: each route's body read the way
 * Unleash's validators and stores read it (members they drop left out, defaults they fill in
 * written in, values they convert refused), so the policy judges, and the ledger records, what
 * Unleash applies. The body has passed the shared strict reader and the request-type check
 * (`classify.ts`) first.
 */
import normalizeUrl from 'normalize-url';
import { fieldMalformed, isObject, membersIn, rolloutOf, storedConstraints, STRATEGY_MEMBERS, tagKey, usableName, type JsonObject, type PatchOperation, type WriteBody } from './body.js';
import { checkMetadataPatch, checkPatchedRollout } from './patch-checks.js';
import type { WriteRoute } from './routes.js';
import { storedVariants } from './variant-weights.js';

export function newStateOf(route: WriteRoute, params: Record<string, string>, body: WriteBody, environments: string[]): unknown {
  const patch = route.body === 'patch' ? { patch: body } : undefined;
  const object = (isObject(body) ? body : {}) as JsonObject;
  switch (route.action) {
    case 'flag.enable':
      return { enabled: true };
    case 'flag.disable':
      return { enabled: false };
    case 'flag.archive':
      // Unleash deletes an archived flag's dependencies on its parents; a revive leaves it with none.
      return { archived: true, dependencies: [] };
    case 'flag.revive':
      // Unleash revives a flag switched off in every environment, whatever it was when archived.
      return { archived: false, enabled: false };
    case 'flag.delete':
      return { deleted: true };
    case 'flag.create':
      return createdFlag(object, params.feature);
    case 'flag.update':
      if (patch) checkMetadataPatch(body as PatchOperation[]);
      return patch ? { patch: descriptionAsStored(body as PatchOperation[]) } : updatedMetadata(object, params.feature!);
    case 'segment.create':
    case 'segment.update':
      return segmentAsStored(object, route.action === 'segment.create');
    case 'flag.stale':
      if (typeof object.stale !== 'boolean') throw fieldMalformed('stale', 'a boolean');
      return { stale: object.stale };
    case 'flag.complete':
      if (typeof object.status !== 'string') throw fieldMalformed('status', 'a string');
      return { completed: true, ...object };
    case 'flag.uncomplete':
      return { completed: false };
    case 'strategy.delete':
      return { id: params.strategyId, deleted: true };
    case 'strategy.create':
      return normalizeStrategy(object, 'create', params.feature!);
    case 'strategy.update':
      // The id from the path wins over any id in the body: it is the strategy Unleash will change.
      if (patch) checkPatchedRollout(body as PatchOperation[]);
      return patch ? { id: params.strategyId, ...patch } : { ...normalizeStrategy(object, 'update', params.feature!), id: params.strategyId };
    case 'strategy.reorder':
      return { order: sortOrders(body as JsonObject[]) };
    case 'variants.update':
      return variantsOf(route, body, environments);
    case 'dependency.add':
      return dependencyOf(object);
    case 'dependency.delete':
      // Without a parent in the path, Unleash removes every dependency of the flag.
      return { removed: params.parent ?? '*' };
    case 'link.create':
      onlyLinkMembers(object);
      return { url: linkUrl(object), title: object.title ?? null };
    case 'link.update':
      onlyLinkMembers(object);
      // Unleash's update leaves a title it is not sent as it was (the previous state's links show it).
      return { id: params.linkId, url: linkUrl(object), ...(object.title === undefined ? {} : { title: object.title }) };
    case 'link.delete':
      return { id: params.linkId, deleted: true };
    case 'tag.add':
      if (typeof object.type !== 'string' || typeof object.value !== 'string') throw fieldMalformed('type and value', 'strings');
      requireTagValue(object.value, 'value');
      return { added: [{ type: object.type, value: object.value }], removed: [] };
    case 'tag.update':
      return tagsUpdated(tagList(object, 'addedTags'), tagList(object, 'removedTags'));
    case 'tag.delete':
      return { added: [], removed: [{ type: params.tagType, value: params.tagValue }] };
    case 'segment.delete':
    case 'context.delete':
      return { deleted: true };
    case 'context.create':
      return contextFieldAsCreated(object, params.project);
    case 'context.update':
      if (params.legalValue !== undefined) return { removedLegalValue: params.legalValue };
      if (route.pattern.endsWith('/legal-values')) return { legalValue: object };
      return contextFieldAsUpdated(object, params.contextField!);
    default:
      return patch ?? body;
  }
}

/**
 * A segment as Unleash's store writes it: its name, description, constraints (each with the
 * `values` list its validator defaults) and project, one left out or empty stored as none (a
 * segment every project may use); a create also its `id` when the body gives one. Nothing else of
 * the body (a `createdBy`: Unleash names the caller) is stored. An update without a description
 * keeps the segment's own; a create stores none.
 */
function segmentAsStored(object: JsonObject, create: boolean): JsonObject {
  const { id, name, description, constraints } = object;
  // Its schema does not declare an id, so nothing converts one: PostgreSQL reads "00534" as 534.
  if (create && id !== undefined && !(Number.isInteger(id) && (id as number) > 0 && (id as number) <= 2_147_483_647)) {
    throw fieldMalformed('id', 'absent, or a positive integer written as a number (PostgreSQL reads other spellings as another id)');
  }
  return {
    ...(create && id !== undefined ? { id } : {}),
    name,
    ...(description !== undefined ? { description } : create ? { description: null } : {}),
    constraints: storedConstraints(constraints),
    project: object.project || null,
  };
}

/**
 * A context field as Unleash's create stores it: the body's members its store writes, a missing
 * `stickiness` as false, `sortOrder` as 0, `legalValues` as none and description as none; under a
 * project's path the field is that project's whatever the body says, else the body's project
 * (none: a field every project may use, which Unleash's read leaves out too).
 */
function contextFieldAsCreated(object: JsonObject, pathProject: string | undefined): JsonObject {
  const project = pathProject ?? (typeof object.project === 'string' && object.project !== '' ? object.project : undefined);
  return {
    name: object.name,
    description: object.description ?? null,
    legalValues: Array.isArray(object.legalValues) ? object.legalValues : [],
    stickiness: object.stickiness === true,
    sortOrder: typeof object.sortOrder === 'number' ? object.sortOrder : 0,
    ...(project !== undefined ? { project } : {}),
  };
}

/**
 * A context field as Unleash's update stores it: its validation drops `sortOrder` (stored as 0) and
 * anything else it does not know, and its store writes a missing `stickiness` as false and missing
 * `legalValues` as none; a missing description or project is left as it is. The name is the path's.
 */
function contextFieldAsUpdated(object: JsonObject, name: string): JsonObject {
  const { description, project } = object;
  return {
    name,
    ...(description !== undefined ? { description } : {}),
    legalValues: Array.isArray(object.legalValues) ? object.legalValues : [],
    stickiness: object.stickiness === true,
    sortOrder: 0,
    ...(typeof project === 'string' && project !== '' ? { project } : {}),
  };
}

/**
 * A dependency as Unleash stores it. Its validator coerces a body to the schema's types before the
 * handler reads it (`"enabled": null` or `"false"` becomes false: the child then serves where the
 * parent is off), so only the types it would not touch are taken; and it drops the variants of a
 * dependency on a disabled parent.
 */
function dependencyOf(object: JsonObject): JsonObject {
  const { enabled = true, variants = [] } = object;
  if (typeof enabled !== 'boolean') throw fieldMalformed('enabled', 'absent or a boolean');
  if (!Array.isArray(variants) || !variants.every((v) => typeof v === 'string')) throw fieldMalformed('variants', 'absent or a list of strings');
  return { parent: usableName(object.feature, 'feature'), enabled, variants: enabled ? variants : [] };
}

function sortOrders(list: JsonObject[]): Array<{ id: string; sortOrder: number }> {
  const seen = new Set<string>();
  return list.map((item, i) => {
    if (typeof item.id !== 'string' || typeof item.sortOrder !== 'number' || !Number.isInteger(item.sortOrder)) {
      throw fieldMalformed(`[${i}]`, 'an object with a string id and an integer sortOrder');
    }
    // Unleash writes them in turn, so the last of a strategy's orders wins; the entry would list both.
    if (seen.has(item.id)) throw fieldMalformed(`[${i}].id`, 'a strategy named once');
    seen.add(item.id);
    return { id: item.id, sortOrder: item.sortOrder };
  });
}

/**
 * A link's URL as Unleash stores it: normalized by normalize-url (the version and options Unleash
 * uses), which drops `www.`, credentials and `utm_` parameters, sorts the query and gives a bare
 * host `https://`; one it cannot normalize Unleash refuses, and so does flaggate.
 */
function linkUrl(object: JsonObject): string {
  if (typeof object.url !== 'string' || object.url === '') throw fieldMalformed('url', 'a non-empty string');
  try {
    return normalizeUrl(object.url, { defaultProtocol: 'https' });
  } catch {
    throw fieldMalformed('url', 'a URL Unleash can normalize');
  }
}

/**
 * Unleash's link store writes every member of the body as a column of the link's row: an `id`
 * renames the link (the entry would name one that is gone). Only the URL and title are taken.
 */
function onlyLinkMembers(object: JsonObject): void {
  const other = Object.keys(object).find((k) => k !== 'url' && k !== 'title');
  if (other !== undefined) throw fieldMalformed(other, 'absent: a link is written with its url and title only (Unleash writes any other member into the link as it stands)');
}

/**
 * A tag value as Unleash's tag check takes it: 2 to 50 UTF-16 units (an emoji counts 2). The
 * request's schema counts characters, and a tag update that fails the check in the middle has
 * added the tags before it.
 */
function requireTagValue(value: string, field: string): void {
  if (value.length < 2 || value.length > 50) throw fieldMalformed(field, 'a tag value of 2 to 50 UTF-16 units, as Unleash counts them');
}

function tagList(object: JsonObject, field: string): Array<{ type: string; value: string }> {
  const list = object[field];
  if (!Array.isArray(list)) throw fieldMalformed(field, 'an array');
  return list.map((t: unknown) => {
    if (!isObject(t) || typeof t.type !== 'string' || typeof t.value !== 'string') throw fieldMalformed(field, 'a list of {type, value}');
    requireTagValue(t.value, field);
    return { type: t.type, value: t.value };
  });
}

/**
 * A tag update as Unleash applies it: each added tag once, then each removed tag once. A tag both
 * added and removed is refused: Unleash would put it into the instance-wide tag catalogue (or fail
 * on its type) while the flag ends without it, which an entry of the flag's tags would not show.
 */
function tagsUpdated(added: Array<{ type: string; value: string }>, removed: Array<{ type: string; value: string }>): JsonObject {
  const once = (list: Array<{ type: string; value: string }>) => [...new Map(list.map((t) => [tagKey(t), t])).values()];
  const gone = new Set(removed.map(tagKey));
  const both = added.find((t) => gone.has(tagKey(t)));
  if (both) throw fieldMalformed('addedTags', `free of tags also in removedTags (${both.type}:${both.value}): Unleash would add it to the tag catalogue, then take it off the flag`);
  return { added: once(added), removed: once(removed) };
}

/** A new flag as Unleash stores it: a clone copies the source's type, strategies and variants, so the source is part of what is created. */
function createdFlag(object: JsonObject, cloneOf: string | undefined): JsonObject {
  // Unleash's clone reads the name and `replaceGroupId` and nothing else of the body: the flag is the source's copy.
  if (cloneOf !== undefined) return { name: object.name, ...(object.replaceGroupId !== undefined ? { replaceGroupId: object.replaceGroupId } : {}), cloneOf };
  refuseCreatedAside(object);
  // Unleash's validator drops what its schema does not list (an `enabled`, `strategies`, a
  // `project`: the path's is the flag's) and defaults the rest; its store writes an empty
  // description as none.
  // Its create schema does not declare `stale`, so no type check before it converts one ("false").
  if (object.stale !== undefined && typeof object.stale !== 'boolean') throw fieldMalformed('stale', 'a boolean');
  // Unleash stores the body's creator over the caller it knows: the flag would be attributed to
  // whoever the body names, in Unleash's records and its UI.
  if (Object.hasOwn(object, 'createdByUserId')) throw fieldMalformed('createdByUserId', "absent on a create: Unleash would attribute the flag to the user it names instead of flaggate's credential");
  const kept = membersIn(object, CREATE_MEMBERS);
  // A creation time left empty is the time of the create; tags are each stored once.
  if (kept.createdAt === undefined || kept.createdAt === null || kept.createdAt === '') delete kept.createdAt;
  else kept.createdAt = storedCreatedAt(kept.createdAt);
  if (Array.isArray(kept.tags)) kept.tags = uniqueTags(kept.tags);
  return { ...kept, type: object.type ?? 'release', impressionData: object.impressionData ?? false, stale: object.stale ?? false, description: object.description || null };
}

/**
 * A creation time as Unleash's validator (Joi's date) reads it and its store writes it: an ISO 8601
 * instant, stored to the millisecond. A number, or text of digits only, Joi reads as milliseconds
 * since 1970 (JavaScript's own reading of "1" is the year 2001): refused, as is any other spelling.
 */
function storedCreatedAt(value: unknown): string {
  // A time without its offset is read in the reader's own time zone (flaggate's and Unleash's may
  // differ); a date alone reads as UTC midnight to both.
  const readable = typeof value === 'string' && ISO_INSTANT.test(value) && !Number.isNaN(Date.parse(value));
  if (!readable) throw fieldMalformed('createdAt', 'an ISO 8601 date, or date and time with its offset (Z or ±hh:mm), or absent');
  return new Date(value as string).toISOString();
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2}))?$/;

/** Tags as Unleash stores them on a flag: each (type, value) once, the first written kept. */
function uniqueTags(tags: unknown[]): unknown[] {
  const seen = new Set<string>();
  return tags.filter((t) => {
    const key = isObject(t) ? tagKey(t) : JSON.stringify(t);
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

/** The members of a create Unleash's validator keeps (`featureMetadataSchema`). */
const CREATE_MEMBERS = new Set(['name', 'stale', 'archived', 'type', 'description', 'impressionData', 'createdAt', 'variants', 'tags']);

/**
 * Variants as Unleash stores them: a list reweighted (variants-batch fills in its defaults first);
 * a patch as sent, the list it leaves recorded by the state read, which applies it to the variants
 * Unleash holds (`patched-variants.ts`).
 */
function variantsOf(route: WriteRoute, body: WriteBody, environments: string[]): JsonObject {
  if (route.body === 'patch') return { patch: body };
  if (route.scope === 'named') return { variants: storedVariants(body as JsonObject[]) };
  const object = (isObject(body) ? body : {}) as JsonObject;
  // Without a list, Unleash clears the variants.
  if (object.variants !== undefined && !Array.isArray(object.variants)) throw fieldMalformed('variants', 'an array');
  return {
    variants: storedVariants(((object.variants ?? []) as unknown[]).map((v: unknown) => (isObject(v) ? { weightType: 'variable', stickiness: 'default', ...v } : v))),
    environments,
  };
}

/**
 * A feature patch as Unleash stores it: its store writes an empty description as none, so one
 * written as "" (Unleash's UI sends it when the description is cleared) is recorded as null.
 */
function descriptionAsStored(ops: PatchOperation[]): PatchOperation[] {
  return ops.map((op) => (op.path === '/description' && op.value === '' && (op.op === 'add' || op.op === 'replace') ? { ...op, value: null } : op));
}

/**
 * A feature's metadata as Unleash's update stores it: its validator defaults `type` to release and
 * `stale` and `impressionData` to false, and its store writes a missing or empty description as
 * none. A PUT that leaves them out resets them, and the entry says so. The name is the path's.
 */
function updatedMetadata(object: JsonObject, name: string): JsonObject {
  // Its store writes nothing else (an `enabled`, `variants`, a `project`, `tags` are dropped).
  return { name, type: object.type ?? 'release', stale: object.stale ?? false, impressionData: object.impressionData ?? false, description: object.description || null };
}

/**
 * Unleash's create takes two members its schema does not list and acts on them outside any
 * environment the change names: `variants`, written into every environment unchecked, and
 * `archived`, which creates the flag archived. Neither is taken here.
 */
function refuseCreatedAside(object: JsonObject): void {
  if (Object.hasOwn(object, 'variants') && !(Array.isArray(object.variants) && object.variants.length === 0)) {
    throw fieldMalformed('variants', 'absent on a create: Unleash writes them into every environment; set them through PUT …/features/{feature}/variants-batch');
  }
  if (Object.hasOwn(object, 'archived') && object.archived !== false) throw fieldMalformed('archived', 'absent or false on a create');
}

/**
 * A strategy with its lists present, its variants as Unleash stores them and its rollout as a
 * number: Unleash sends `rollout` as a string parameter ("25"), which policies should not have to
 * parse. An update without `segments` keeps the strategy's segments (none is recorded: the previous
 * state shows them), as it keeps a `title` or `disabled` sent as null; one without `variants` clears them.
 */
function normalizeStrategy(given: JsonObject, kind: 'create' | 'update', flagKey: string): JsonObject {
  // Without a name, Unleash's update keeps the strategy's own and fills in none of the parameters
  // that name's kind gets (a flexible rollout's stickiness and group), which the entry could not show.
  if (kind === 'update' && (typeof given.name !== 'string' || given.name === '')) {
    throw fieldMalformed('name', "set on a strategy update: Unleash keeps the strategy's own name without one and skips the parameters that name fills in");
  }
  const body = strategyMembers(given);
  const { parameters = {}, constraints = [], variants = [] } = body;
  if (!isObject(parameters)) throw fieldMalformed('parameters', 'an object');
  if (!Array.isArray(constraints)) throw fieldMalformed('constraints', 'an array');
  if (body.segments !== undefined && !Array.isArray(body.segments)) throw fieldMalformed('segments', 'an array');
  if (Array.isArray(body.segments) && new Set(body.segments).size !== body.segments.length) throw fieldMalformed('segments', 'a list naming each segment once (Unleash stores each once)');
  if (!Array.isArray(variants)) throw fieldMalformed('variants', 'an array');
  // `rollout` is derived only; a top-level one from the client would mislead the policy.
  const { rollout: _ignored, ...rest } = body;
  const out: JsonObject = { ...rest, parameters, constraints: storedConstraints(constraints), variants: storedVariants(variants) };
  if (kind === 'create' || body.segments !== undefined) out.segments = body.segments ?? [];
  // Unleash's update leaves a member sent as null as it was: recorded as absent, like one not sent.
  if (kind === 'update') for (const member of ['title', 'disabled'] as const) if (out[member] === null) delete out[member];
  // Nor does it write a sort order (set-sort-order does): an update's would be recorded, never applied.
  if (kind === 'update') delete out.sortOrder;
  if (parameters.rollout !== undefined) out.rollout = rolloutOf(parameters.rollout);
  // Unleash stores a flexible rollout without one as "100".
  else if (body.name === 'flexibleRollout') out.rollout = 100;
  // And one without a group as grouped by the flag's name: the group decides which users are in.
  if (body.name === 'flexibleRollout' && !parameters.groupId) out.parameters = { ...parameters, groupId: flagKey };
  // Without a stickiness it takes the project's default: the state read records which
  // (`previous_state.environments.<env>.defaultStickiness`).
  return out;
}

/**
 * The members of a strategy body Unleash acts on (its `standardizeStrategyConfig`, and `segments`
 * apart); anything else (an `id`, a `featureName`, `segmentIds`) it drops, and the entry leaves out.
 */
function strategyMembers(body: JsonObject): JsonObject {
  return membersIn(body, STRATEGY_MEMBERS);
}
