/**
 * Turns a raw request to LaunchDarkly's REST API v2 into a read, a recognized write (a FlagChange),
 * or an unrecognized write. Pure: no I/O, no clock.
 *
 * A flag update comes in three forms, told apart by the Content-Type, as LaunchDarkly tells them:
 * JSON Patch (`application/json`: an operation array, or `{patch, comment}`), JSON merge patch
 * (`application/merge-patch+json`: a document, or `{merge, comment}`) and semantic patch (`application/json;
 * domain-model=launchdarkly.semanticpatch`: `{environmentKey, instructions, comment}`). Each is
 * normalized to one FlagChange: its environment is the one environment every part touches (`*`
 * when several, or the flag itself), and turning a flag on or off is `flag.enable`/`flag.disable`.
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import type { Classification, FlagChange, FlagRead } from '../platform.js';
import {
  acceptMediaType, decidedRequest, fieldNames, formatQuery, isJsonPointer, JSON_UTF8, parseQuery, onlyKeys, parseStrictJson, plainSegments, refuseCaseTwins,
  requireNoBody, splitTarget, type DeclaredMediaType, type JsonPath,
} from '../request/index.js';
import { DOCUMENTED_FIELDS, oneSpellingEach } from './documented-fields.js';

export const PLATFORM = 'launchdarkly';
export const ALL_ENVIRONMENTS = '*';

const MERGE_PATCH: DeclaredMediaType = { type: 'application/merge-patch+json', parameters: { charset: 'utf-8' }, forwardAs: 'application/merge-patch+json' };
export const SEMANTIC_PATCH_TYPE = 'application/json; domain-model=launchdarkly.semanticpatch';
const SEMANTIC_PATCH: DeclaredMediaType = { type: 'application/json', parameters: { 'domain-model': 'launchdarkly.semanticpatch' }, forwardAs: SEMANTIC_PATCH_TYPE };

const PATCH_OPS = new Set(['add', 'remove', 'replace', 'move', 'copy', 'test']);
/** Project, environment and flag keys: LaunchDarkly's own key alphabet. */
const KEY = /^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/;
/**
 * LaunchDarkly (Go) decodes into structs, matching their fields regardless of case, at every depth:
 * the body, a JSON Patch operation, a semantic patch instruction and its clauses, rules, targets and
 * rollouts, an environment's settings, the flag's nested settings, in the bare forms and inside the
 * `patch` and `merge` wrappers. So every object is checked but where the user chooses the keys: the
 * maps themselves (`isMapPlace`; their values are structs again), and JSON values of the user's
 * (`value`, `values`: a variation's value, a clause's values, what a JSON Patch operation writes).
 * There two keys that differ only in case are refused, and so is one key that differs only in case
 * from a documented field (`On` for `on`): the entry would show a member LaunchDarkly reads as another.
 */
const STRUCT_FIELDS = { caseInsensitiveAt: isStructPath, fields: fieldNames(oneSpellingEach(DOCUMENTED_FIELDS)) };
/**
 * Objects keyed by names the user chose, by where they sit: the flag's (or a merge patch's)
 * `environments` and `customProperties`, and an instruction's `rolloutWeights` by variation id.
 * By place, not by name: an environment may be named `customProperties`, and its settings are a
 * struct all the same. (A JSON value of the user's is still told by the names before it, which no
 * field of an environment's settings shares.)
 */
function isMapPlace(path: JsonPath): boolean {
  const at = path[0] === 'merge' ? path.slice(1) : path;
  if (at.length === 1) return at[0] === 'environments' || at[0] === 'customProperties';
  // An instruction's weights, or those of a rule an instruction writes whole (`replaceRules`).
  const inInstruction = at[0] === 'instructions' && typeof at[1] === 'number';
  return inInstruction && ((at.length === 3 && at[2] === 'rolloutWeights') || (at.length === 5 && at[2] === 'rules' && typeof at[3] === 'number' && at[4] === 'rolloutWeights'));
}
/**
 * Where a JSON value of the user's sits, by the two steps before it: a variation's value, a custom
 * property's values, a clause's values, an instruction's value or values. Only there: an environment
 * may well be named `value`.
 */
const FREE_JSON_AT: ReadonlyArray<[string, string]> = [
  ['variations', 'value'], ['customProperties', 'value'], ['clauses', 'values'],
  ['instructions', 'value'], ['instructions', 'values'], ['instructions', 'onVariationValue'], ['instructions', 'offVariationValue'],
];

/**
 * A struct unless inside a JSON value of the user's, or one of the maps itself, in the flag document
 * or a body. In a body, a JSON Patch operation's `value` is passed over here and checked afterwards
 * at the place in the flag its `path` names.
 */
function isStructPath(path: JsonPath): boolean {
  return !(isFreeJson(path) || isPatchValue(path) || isMapPlace(path));
}

function isFreeJson(path: JsonPath): boolean {
  // `updateClause` names one clause (`clause`), whose values are the user's as a clause's in a list are.
  return path.some((step, k) => (k >= 2 && FREE_JSON_AT.some(([list, field]) => step === field && path[k - 2] === list)) || (step === 'values' && path[k - 1] === 'clause'));
}

/** What a place in the flag holds, as a copy or move must keep it: a value of the user's, a map of the user's names, or settings. */
function placeOf(path: JsonPath): string {
  if (isFreeJson(path)) return 'a value of the user\'s';
  return isStructPath(path) ? 'the flag\'s settings' : 'a map of names the user chose';
}

/** Inside the value of a JSON Patch operation, bare (`[i, "value"]`) or in its wrapper (`["patch", i, "value"]`). */
function isPatchValue(path: JsonPath): boolean {
  const at = path[0] === 'patch' ? 1 : 0;
  return typeof path[at] === 'number' && path[at + 1] === 'value' && path.length > at + 1;
}

const FLAG_CREATE_FIELDS = ['name', 'key', 'description', 'includeInSnippet', 'clientSideAvailability', 'variations', 'temporary', 'tags', 'customProperties', 'defaults', 'purpose', 'migrationSettings', 'maintainerId', 'maintainerTeamKey', 'initialPrerequisites', 'isFlagOn'];

type JsonObject = Record<string, unknown>;

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws ADAPT_TARGET_REFUSED, ADAPT_QUERY_REFUSED, ADAPT_ROUTE_UNKNOWN, ADAPT_MEDIA_TYPE_UNSUPPORTED, ADAPT_BODY_MALFORMED. */
export function classifyLaunchDarkly(req: RawRequest): Classification {
  const { path, query } = splitTarget(req.path);
  const segments = plainSegments(path);
  const method = req.method.toUpperCase();
  if (segments[0] !== 'api' || segments[1] !== 'v2') throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'only the LaunchDarkly REST API under /api/v2/ is proxied', { details: { path } });
  const flagRoute = segments[2] === 'flags' && (segments.length === 4 || segments.length === 5);
  if (method === 'GET' || method === 'HEAD') {
    // Members, access tokens, audit log and the rest would hand every reader an administrator's view.
    // Flag sub-resources are left out too: triggers, for one, carry URLs that flip the flag.
    if (!flagRoute && !(segments[2] === 'projects' && segments.length <= 4)) {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `flaggate passes through flag reads only, not ${path}`, { details: { path } });
    }
    const params = parseQuery(query, (key) => /^[A-Za-z][A-Za-z0-9_.]{0,63}$/.test(key));
    const read: FlagRead = { platform: PLATFORM, action: 'flag.read' };
    if (segments[2] === 'flags' && segments[3] !== undefined) read.project = segments[3];
    if (segments[2] === 'flags' && segments.length === 5) read.flagKey = segments[4]!;
    if (params.env !== undefined) read.environment = params.env;
    return { kind: 'read', read, forward: decidedRequest(method, joinPath(segments) + formatQuery(params), null, Buffer.alloc(0)) };
  }
  if (!flagRoute) return { kind: 'unrecognized', method, path, reason: `no LaunchDarkly write route for ${method} ${path}` };
  const project = segments[3]!;
  const flagKey = segments[4];
  if (method === 'POST' && flagKey === undefined) {
    // `clone` copies another flag's targeting: not what the entry would show.
    parseQuery(query, []);
    const contentType = acceptMediaType(req.headers, [JSON_UTF8]);
    const body = onlyKeys(parseStrictJson(req.body, STRUCT_FIELDS), FLAG_CREATE_FIELDS);
    if (typeof body.key !== 'string' || !KEY.test(body.key)) throw malformed('key must be a flag key', 'key');
    if (typeof body.name !== 'string' || body.name === '') throw malformed('name must be a non-empty string', 'name');
    return write(method, joinPath(segments), contentType, req.body, { action: 'flag.create', project, flagKey: body.key, environment: ALL_ENVIRONMENTS, newState: body });
  }
  if (method === 'DELETE' && flagKey !== undefined) {
    parseQuery(query, []);
    requireNoBody(req);
    return write(method, joinPath(segments), null, Buffer.alloc(0), { action: 'flag.delete', project, flagKey, environment: ALL_ENVIRONMENTS, newState: { deleted: true } });
  }
  if (method === 'PATCH' && flagKey !== undefined) {
    // `ignoreConflicts` overrides LaunchDarkly's own pending approvals: kept in the new state for the
    // policy to see. `dryRun` is refused: the entry would record a change that is never made.
    const params = parseQuery(query, ['ignoreConflicts']);
    if (params.ignoreConflicts !== undefined && params.ignoreConflicts !== 'true' && params.ignoreConflicts !== 'false') {
      throw new FlaggateError('ADAPT_QUERY_REFUSED', 'ignoreConflicts must be true or false', { details: { query } });
    }
    const contentType = acceptMediaType(req.headers, [JSON_UTF8, MERGE_PATCH, SEMANTIC_PATCH]);
    const value = parseStrictJson(req.body, STRUCT_FIELDS);
    const update = contentType === SEMANTIC_PATCH_TYPE ? semanticPatch(value) : contentType === MERGE_PATCH.forwardAs ? mergePatch(value) : jsonPatch(value);
    const newState = params.ignoreConflicts === undefined ? update.newState : { ...update.newState, ignoreConflicts: params.ignoreConflicts === 'true' };
    return write(method, joinPath(segments) + formatQuery(params), contentType, req.body, { ...update, newState, project, flagKey });
  }
  return { kind: 'unrecognized', method, path, reason: `no LaunchDarkly write route for ${method} ${path}` };
}

function write(method: string, target: string, contentType: string | null, body: Buffer, change: Omit<FlagChange, 'platform' | 'request'>): Classification {
  const forward = decidedRequest(method, target, contentType, body);
  return { kind: 'write', change: { platform: PLATFORM, ...change, request: { method, path: forward.target, bodySha256: forward.bodySha256 } }, forward };
}

interface Update {
  action: string;
  environment: string;
  newState: JsonObject;
}

const ENV_ON = /^\/environments\/[^/]+\/on$/;

/** Whether a pointer is an environment's `on` or holds one (an environment, every environment, the flag). */
function holdsOn(pointer: string): boolean {
  return pointer === '' || pointer === '/environments' || /^\/environments\/[^/]+$/.test(pointer) || ENV_ON.test(pointer);
}

/** Whether an operation leaves some environment's `on` other than a boolean (removed, null, absent from what it writes). */
function writesOnAsOff(op: JsonObject): boolean {
  const path = op.path as string;
  if (!holdsOn(path)) return false;
  if (op.op !== 'add' && op.op !== 'replace') return true;
  const value = op.value;
  if (ENV_ON.test(path)) return typeof value !== 'boolean';
  const environment = (v: unknown) => isObject(v) && typeof v.on === 'boolean';
  if (/^\/environments\/[^/]+$/.test(path)) return !environment(value);
  if (path === '/environments') return !isObject(value) || !Object.values(value).every(environment);
  return true; // the whole flag replaced
}

/** RFC 6902 operations, bare or as `{patch, comment}`. */
function jsonPatch(value: unknown): Update {
  const { patch, comment } = withComment(value, Array.isArray);
  if (!Array.isArray(patch) || patch.length === 0) throw malformed('a JSON Patch must be a non-empty array of operations', 'patch');
  const envs = new Set<string>();
  patch.forEach((op: unknown, i) => {
    if (!isObject(op) || typeof op.op !== 'string' || !PATCH_OPS.has(op.op) || typeof op.path !== 'string') throw malformed(`JSON Patch operation ${i} needs a known op and a path`, 'patch');
    if (!isJsonPointer(op.path) || (Object.hasOwn(op, 'from') && !isJsonPointer(op.from))) throw malformed(`JSON Patch operation ${i}: path and from must be JSON Pointers ("" or "/"-led, escapes ~0 and ~1 only)`, 'patch');
    for (const key of Object.keys(op)) if (!['op', 'path', 'value', 'from'].includes(key)) throw malformed(`JSON Patch operation ${i} has an unknown member "${key.slice(0, 32)}"`, 'patch');
    envs.add(environmentOf(op.path));
    if (typeof op.from === 'string') envs.add(environmentOf(op.from));
    // LaunchDarkly patches the flag's JSON and decodes it into its structs: a path's member in
    // another case (`/environments/production/On`) is added beside the field and read as it.
    refuseStepVariants(op.path, i);
    if (typeof op.from === 'string') refuseStepVariants(op.from, i);
    // The value lands where the path points.
    if (Object.hasOwn(op, 'value')) refuseCaseTwins(op.value, STRUCT_FIELDS, pointerSteps(op.path));
    // A copy or move takes what is there, unchecked (perhaps written by an operation before it):
    // from a JSON value of the user's, or a map keyed by the user's names, into a struct's place,
    // its keys would be read as fields (`/customProperties` holding a property named `Rollout`).
    if ((op.op === 'copy' || op.op === 'move') && typeof op.from === 'string' && placeOf(pointerSteps(op.from)) !== placeOf(pointerSteps(op.path))) {
      throw malformed(`JSON Patch operation ${i} ${op.op === 'copy' ? 'copies' : 'moves'} ${placeOf(pointerSteps(op.from))} into ${placeOf(pointerSteps(op.path))}: write it out instead`, 'patch');
    }
    // An environment's `on` removed, or written as null or another type, decodes as off: an undecided flag.disable.
    if (op.op !== 'test' && writesOnAsOff(op)) throw malformed(`JSON Patch operation ${i} must leave every environment's on as true or false`, 'patch');
    if (op.op === 'move' && typeof op.from === 'string' && holdsOn(op.from)) throw malformed(`JSON Patch operation ${i} moves ${op.from} away, which reads as off`, 'patch');
  });
  const environment = envs.size === 1 ? [...envs][0]! : ALL_ENVIRONMENTS;
  const ops = patch as JsonObject[];
  let action = 'flag.update';
  const toggles = ops.every((o) => o.op === 'replace' && o.path === `/environments/${environment}/on` && typeof o.value === 'boolean');
  if (environment !== ALL_ENVIRONMENTS && toggles && new Set(ops.map((o) => o.value)).size === 1) action = ops[0]!.value ? 'flag.enable' : 'flag.disable';
  if (ops.every((o) => o.op === 'replace' && o.path === '/archived' && o.value === true)) action = 'flag.archive';
  return { action, environment, newState: { patch: ops, ...(comment === undefined ? {} : { comment }) } };
}

/** RFC 7386 merge patch, bare or as `{merge, comment}` (a flag has neither field). */
function mergePatch(value: unknown): Update {
  const { patch, comment } = withMergeComment(value);
  if (!isObject(patch) || Object.keys(patch).length === 0) throw malformed('a JSON merge patch must be a non-empty object', 'patch');
  const envs = isObject(patch.environments) ? Object.keys(patch.environments) : [];
  const flagLevel = Object.keys(patch).some((k) => k !== 'environments');
  const environment = !flagLevel && envs.length === 1 ? envs[0]! : ALL_ENVIRONMENTS;
  // A merge patch's null removes the member (an environment, every one, an `on`), which decodes as off.
  if (Object.hasOwn(patch, 'environments') && !isObject(patch.environments)) throw malformed('environments must be an object of environments', 'merge');
  for (const [env, config] of Object.entries(isObject(patch.environments) ? patch.environments : {})) {
    if (!isObject(config) || (Object.hasOwn(config, 'on') && typeof config.on !== 'boolean')) throw malformed(`environments.${env} must be an object whose on is true or false`, 'merge');
  }
  let action = 'flag.update';
  if (environment !== ALL_ENVIRONMENTS) {
    const config = (patch.environments as JsonObject)[environment];
    if (isObject(config) && Object.keys(config).length === 1 && typeof config.on === 'boolean') action = config.on ? 'flag.enable' : 'flag.disable';
  }
  return { action, environment, newState: { merge: patch, ...(comment === undefined ? {} : { comment }) } };
}

const ENV_INSTRUCTION_FREE = new Set([
  'archiveFlag', 'deleteFlag', 'deprecateFlag', 'restoreDeprecatedFlag', 'restoreFlag', 'makeFlagPermanent', 'makeFlagTemporary',
  'addTags', 'removeTags', 'updateName', 'updateDescription', 'updateMaintainerMember', 'updateMaintainerTeam', 'removeMaintainer',
  'addCustomProperties', 'removeCustomProperties', 'replaceCustomProperties', 'turnOnClientSideAvailability', 'turnOffClientSideAvailability',
  'addVariation', 'removeVariation', 'updateVariation', 'updateDefaultVariation',
]);
const LIFECYCLE: Record<string, string> = { archiveFlag: 'flag.archive', restoreFlag: 'flag.revive', deleteFlag: 'flag.delete' };
/**
 * The documented instructions that change one environment's targeting (the PATCH flag operation's
 * description, "working with targeting and variations", less the variation kinds, which change the
 * flag itself). A kind on neither list is refused: what it changes, and where, is not known.
 */
const ENV_INSTRUCTION = new Set([
  'turnFlagOn', 'turnFlagOff',
  'addClauses', 'removeClauses', 'updateClause', 'addValuesToClause', 'removeValuesFromClause',
  'addPrerequisite', 'removePrerequisite', 'replacePrerequisites', 'updatePrerequisite',
  'addRule', 'removeRule', 'replaceRules', 'reorderRules', 'updateRuleDescription', 'updateRuleTrackEvents', 'updateRuleVariationOrRollout',
  'addTargets', 'removeTargets', 'replaceTargets', 'clearTargets', 'addUserTargets', 'removeUserTargets', 'replaceUserTargets', 'clearUserTargets',
  'updateFallthroughVariationOrRollout', 'updateOffVariation', 'updateTrackEvents', 'updateTrackEventsFallthrough',
]);

/** `{environmentKey, instructions, comment}`: the instructions' kinds decide the action. */
function semanticPatch(value: unknown): Update {
  const body = onlyKeys(value, ['environmentKey', 'instructions', 'comment']);
  if (!Array.isArray(body.instructions) || body.instructions.length === 0) throw malformed('instructions must be a non-empty array', 'instructions');
  const kinds = body.instructions.map((ins: unknown, i) => {
    if (!isObject(ins) || typeof ins.kind !== 'string' || !/^[A-Za-z]{1,64}$/.test(ins.kind)) throw malformed(`instruction ${i} needs a kind`, 'instructions');
    if (!ENV_INSTRUCTION.has(ins.kind) && !ENV_INSTRUCTION_FREE.has(ins.kind)) throw malformed(`instruction ${i}: "${ins.kind}" is not an instruction LaunchDarkly documents for flags`, 'instructions');
    // The environment is the body's: one named again in an instruction would be a second reading of where it acts.
    if (Object.keys(ins).some((k) => k.toLowerCase() === 'environmentkey')) throw malformed(`instruction ${i} names an environment: name it once, as the body's environmentKey`, 'instructions');
    return ins.kind;
  });
  if (body.comment !== undefined && typeof body.comment !== 'string') throw malformed('comment must be a string', 'comment');
  const envKey = body.environmentKey;
  if (envKey !== undefined && (typeof envKey !== 'string' || !KEY.test(envKey))) throw malformed('environmentKey must be an environment key', 'environmentKey');
  // Instructions about the flag itself apply everywhere, whatever environmentKey says.
  const environment = typeof envKey === 'string' && !kinds.some((k) => ENV_INSTRUCTION_FREE.has(k)) ? envKey : ALL_ENVIRONMENTS;
  if (environment === ALL_ENVIRONMENTS && kinds.some((k) => !ENV_INSTRUCTION_FREE.has(k))) {
    throw malformed('instructions about targeting need an environmentKey, and cannot be mixed with instructions about the flag itself', 'environmentKey');
  }
  let action = 'flag.update';
  const one = new Set(kinds).size === 1 ? kinds[0]! : undefined;
  if (one === 'turnFlagOn') action = 'flag.enable';
  else if (one === 'turnFlagOff') action = 'flag.disable';
  else if (one !== undefined && LIFECYCLE[one] !== undefined) action = LIFECYCLE[one]!;
  const newState: JsonObject = { instructions: body.instructions };
  if (typeof body.comment === 'string') newState.comment = body.comment;
  return { action, environment, newState };
}

/** `{patch, comment}` when the body is that wrapper, else the body itself as the patch. */
function withComment(value: unknown, isPatch: (v: unknown) => boolean): { patch: unknown; comment?: string } {
  if (!isObject(value) || !Object.hasOwn(value, 'patch')) {
    if (isObject(value) && Object.hasOwn(value, 'comment')) throw malformed('a comment goes with a patch: {"patch": …, "comment": …}', 'comment');
    return { patch: value };
  }
  const wrapper = onlyKeys(value, ['patch', 'comment']);
  if (!isPatch(wrapper.patch)) throw malformed('patch is not of the form this Content-Type takes', 'patch');
  if (wrapper.comment !== undefined && typeof wrapper.comment !== 'string') throw malformed('comment must be a string', 'comment');
  return wrapper.comment === undefined ? { patch: wrapper.patch } : { patch: wrapper.patch, comment: wrapper.comment };
}

/**
 * `{merge, comment}` when the body is LaunchDarkly's wrapper for a merge patch with a comment, else
 * the body itself as the patch. A top-level `patch` (JSON Patch's wrapper) or a lone `comment` is
 * refused: LaunchDarkly would read them as members of the flag, not as a wrapper and its comment.
 */
function withMergeComment(value: unknown): { patch: unknown; comment?: string } {
  if (!isObject(value)) return { patch: value };
  if (Object.hasOwn(value, 'patch')) throw malformed('a JSON merge patch takes its comment as {"merge": …, "comment": …}, not {"patch": …}', 'patch');
  if (!Object.hasOwn(value, 'merge')) {
    if (Object.hasOwn(value, 'comment')) throw malformed('a comment goes with a merge patch: {"merge": …, "comment": …}', 'comment');
    return { patch: value };
  }
  const wrapper = onlyKeys(value, ['merge', 'comment']);
  if (!isObject(wrapper.merge)) throw malformed('merge must be a JSON merge patch object', 'merge');
  if (wrapper.comment !== undefined && typeof wrapper.comment !== 'string') throw malformed('comment must be a string', 'comment');
  return wrapper.comment === undefined ? { patch: wrapper.merge } : { patch: wrapper.merge, comment: wrapper.comment };
}

/** RFC 6901: a pointer's reference tokens, unescaped (an array index, or `-`, stays a string: the checks read keys only). */
function pointerSteps(pointer: string): string[] {
  return pointer === '' ? [] : pointer.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Refuses a pointer whose member, in a struct's place, differs only in case from a documented field. */
function refuseStepVariants(pointer: string, i: number): void {
  const steps = pointerSteps(pointer);
  steps.forEach((step, k) => {
    const field = isStructPath(steps.slice(0, k)) ? STRUCT_FIELDS.fields.readAs(step) : undefined;
    if (field !== undefined) throw malformed(`JSON Patch operation ${i}: "${step.slice(0, 64)}" differs from the field "${field}" only in case, and LaunchDarkly reads it as that field`, 'patch');
  });
}

/** The environment a JSON Pointer into a flag touches, or `*` for the flag itself. */
function environmentOf(pointer: string): string {
  const m = /^\/environments\/([^/]+)(\/|$)/.exec(pointer);
  if (!m) return ALL_ENVIRONMENTS;
  if (!KEY.test(m[1]!)) throw malformed('a JSON Patch path names an environment that is not an environment key', 'patch');
  return m[1]!;
}




function joinPath(segments: readonly string[]): string {
  return `/${segments.join('/')}`;
}

function malformed(message: string, field?: string): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message, field === undefined ? undefined : { details: { field } });
}
