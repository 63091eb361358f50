/**
 * Turns a raw request to GrowthBook's REST API (`/api/v1/`) into a read, a recognized write (a
 * FlagChange), or an unrecognized write. Pure: no I/O, no clock.
 *
 * GrowthBook keeps a feature's state per environment (`enabled` and `rules`), and its REST API
 * publishes at once, without its own approvals ("the REST API always bypasses approval
 * requirements" unless an organization turns that off). A change names the environments it writes:
 * a toggle the ones in its body, an update the ones whose settings it replaces, and every one (`*`)
 * when it changes what all environments serve (default value, prerequisites, archiving, …).
 * Drafts, revisions and the v2 routes are not governed: they are refused as unrecognized writes.
 */
import { FlaggateError } from '../../errors.js';
import type { RawRequest } from '../../intercept/index.js';
import type { Classification, FlagChange, FlagRead } from '../platform.js';
import { acceptMediaType, bodyMalformed, decidedRequest, formatQuery, isJsonObject, JSON_UTF8, onlyKeys, parseQuery, parseStrictJson, requireNoBody, splitTarget, type JsonObject } from '../request/index.js';
import { refuseDroppedRuleMembers, refuseRetypedValues } from './stored-values.js';

export const PLATFORM = 'growthbook';
export const ALL_ENVIRONMENTS = '*';

/** GrowthBook's own feature key alphabet (`/^[a-zA-Z0-9_.:|-]+$/` in its REST handlers). */
const FEATURE_KEY = /^[A-Za-z0-9_.:|-]{1,256}$/;
/** Environment ids: plain keys. */
const ENV_KEY = /^[A-Za-z0-9_.-]{1,64}$/;

/** Publishing-gate overrides: kept in the new state, so a policy sees a request that asks to skip GrowthBook's checks. */
const GATE_OVERRIDES = ['ignoreWarnings', 'skipSchemaValidation', 'skipHooks'];
const FEATURE_FIELDS = ['archived', 'description', 'owner', 'project', 'targetingAllProjects', 'targetingProjects', 'defaultValue', 'baseConfig', 'tags', 'environments', 'prerequisites', 'jsonSchema', 'customFields', ...GATE_OVERRIDES];
const CREATE_FIELDS = ['id', 'valueType', ...FEATURE_FIELDS];
const UPDATE_FIELDS = [...FEATURE_FIELDS, 'holdout'];
/** Fields that describe a feature without changing what any environment serves. */
const DESCRIPTIVE = new Set(['description', 'owner', 'tags', 'customFields', ...GATE_OVERRIDES]);
/** Values GrowthBook's toggle reads as on (`[true, "true", "1", 1]`); the others it takes are off. */
const TOGGLE_ON: readonly unknown[] = [true, 'true', '1', 1];
const TOGGLE_OFF: readonly unknown[] = [false, 'false', '0', 0, ''];

/** Throws ADAPT_TARGET_REFUSED, ADAPT_QUERY_REFUSED, ADAPT_ROUTE_UNKNOWN, ADAPT_MEDIA_TYPE_UNSUPPORTED, ADAPT_BODY_MALFORMED. */
export function classifyGrowthBook(req: RawRequest): Classification {
  const { path, query } = splitTarget(req.path);
  const segments = featureSegments(path);
  const method = req.method.toUpperCase();
  if (segments[0] !== 'api') throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'only the GrowthBook REST API under /api/ is proxied', { details: { path } });
  const unrecognized: Classification = { kind: 'unrecognized', method, path, reason: `no GrowthBook write route for ${method} ${path}` };
  const isRead = method === 'GET' || method === 'HEAD';
  if (segments[1] !== 'v1') {
    if (isRead) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'flaggate passes through the GrowthBook REST API under /api/v1/ only', { details: { path } });
    return unrecognized;
  }
  const area = segments[2];
  const featureKey = area === 'features' ? segments[3] : undefined;
  if (isRead) {
    // API keys, members, SDK connections and the rest would hand every reader an administrator's view.
    const flagRead = (area === 'features' && segments.length <= 4) || ((area === 'environments' || area === 'projects') && segments.length === 3);
    if (!flagRead) throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', `flaggate passes through flag reads only, not ${path}`, { details: { path } });
    const params = parseQuery(query, ['limit', 'offset', 'projectId', 'clientKey', 'skipPagination', 'withRevisions']);
    const read: FlagRead = { platform: PLATFORM, action: 'flag.read' };
    if (featureKey !== undefined) read.flagKey = featureKey;
    if (params.projectId !== undefined) read.project = params.projectId;
    return { kind: 'read', read, forward: decidedRequest(method, joinPath(segments) + formatQuery(params), null, Buffer.alloc(0)) };
  }
  if (area !== 'features') return unrecognized;
  const target = joinPath(segments);
  if (method === 'POST' && segments.length === 3) return create(req, query, target);
  if (featureKey === undefined) return unrecognized;
  if (method === 'DELETE' && segments.length === 4) {
    parseQuery(query, []);
    requireNoBody(req);
    return write(method, target, null, Buffer.alloc(0), { action: 'flag.delete', flagKey: featureKey, environment: ALL_ENVIRONMENTS, environments: [ALL_ENVIRONMENTS], newState: { deleted: true } });
  }
  if (method !== 'POST' || (segments.length === 5 && segments[4] !== 'toggle' && segments[4] !== 'revert') || segments.length > 5) return unrecognized;
  parseQuery(query, []);
  const contentType = acceptMediaType(req.headers, [JSON_UTF8]);
  const value = parseStrictJson(req.body);
  const update = segments.length === 4 ? updateOf(value) : segments[4] === 'toggle' ? toggleOf(value) : revertOf(value);
  return write(method, target, contentType, req.body, { ...update, flagKey: featureKey });
}

function create(req: RawRequest, query: string | null, target: string): Classification {
  parseQuery(query, []);
  const contentType = acceptMediaType(req.headers, [JSON_UTF8]);
  const body = onlyKeys(parseStrictJson(req.body), CREATE_FIELDS);
  if (typeof body.id !== 'string' || !FEATURE_KEY.test(body.id) || body.id === '.' || body.id === '..') throw bodyMalformed('id must be a feature key (letters, digits, "_", ".", ":", "|", "-")', 'id');
  if (!['boolean', 'string', 'number', 'json'].includes(body.valueType as string)) throw bodyMalformed('valueType must be boolean, string, number or json', 'valueType');
  if (typeof body.defaultValue !== 'string') throw bodyMalformed('defaultValue must be a string', 'defaultValue');
  const environments = environmentSettings(body.environments);
  refuseRetypedValues(body, body.valueType);
  refuseDroppedRuleMembers(body);
  // The body's environments; those a new feature is enabled in by default join from the state read (reach.ts).
  const touched = Object.keys(environments);
  return write('POST', target, contentType, req.body, { action: 'flag.create', flagKey: body.id, ...environmentFields(touched), newState: body });
}

interface Update {
  action: string;
  environment?: string;
  environments: string[];
  newState: JsonObject;
}

/** `POST /features/{id}`: replaces the environments' settings it names, and the fields it carries. */
function updateOf(value: unknown): Update {
  const body = onlyKeys(value, UPDATE_FIELDS);
  if (Object.keys(body).filter((k) => !GATE_OVERRIDES.includes(k)).length === 0) throw bodyMalformed('an update needs at least one field to change');
  const named = Object.keys(environmentSettings(body.environments));
  // A boolean or JSON feature's values are held to its type once the state read names it (reach.ts).
  refuseDroppedRuleMembers(body);
  const everywhere = Object.keys(body).some((k) => k !== 'environments' && !DESCRIPTIVE.has(k));
  const fields = environmentFields(everywhere ? [ALL_ENVIRONMENTS] : named);
  let action = 'flag.update';
  if (body.archived === true && Object.keys(body).every((k) => k === 'archived' || GATE_OVERRIDES.includes(k))) action = 'flag.archive';
  if (body.archived === false && Object.keys(body).every((k) => k === 'archived' || GATE_OVERRIDES.includes(k))) action = 'flag.revive';
  return { action, ...fields, newState: body };
}

/** `POST /features/{id}/toggle`: `{reason, environments: {env: on-or-off}}`, each value as GrowthBook reads it. */
function toggleOf(value: unknown): Update {
  const body = onlyKeys(value, ['reason', 'environments']);
  if (body.reason !== undefined && typeof body.reason !== 'string') throw bodyMalformed('reason must be a string', 'reason');
  if (!isJsonObject(body.environments) || Object.keys(body.environments).length === 0) throw bodyMalformed('environments must name at least one environment', 'environments');
  const toggles: Record<string, boolean> = {};
  for (const [env, v] of Object.entries(body.environments)) {
    if (!ENV_KEY.test(env)) throw bodyMalformed(`"${env.slice(0, 64)}" is not an environment id`, 'environments');
    if (TOGGLE_ON.includes(v)) toggles[env] = true;
    else if (TOGGLE_OFF.includes(v)) toggles[env] = false;
    else throw bodyMalformed(`environments.${env} must be true or false`, 'environments');
  }
  const states = new Set(Object.values(toggles));
  const action = states.size === 1 ? (states.has(true) ? 'flag.enable' : 'flag.disable') : 'flag.update';
  const newState: JsonObject = { toggles };
  if (typeof body.reason === 'string') newState.reason = body.reason;
  return { action, ...environmentFields(Object.keys(toggles)), newState };
}

/** `POST /features/{id}/revert`: back to an earlier revision, every environment included. */
function revertOf(value: unknown): Update {
  const body = onlyKeys(value, ['revision', 'comment', ...GATE_OVERRIDES]);
  if (typeof body.revision !== 'number' || !Number.isSafeInteger(body.revision) || body.revision < 0) throw bodyMalformed('revision must be a revision number', 'revision');
  if (body.comment !== undefined && typeof body.comment !== 'string') throw bodyMalformed('comment must be a string', 'comment');
  return { action: 'flag.update', ...environmentFields([ALL_ENVIRONMENTS]), newState: body };
}

/** The body's `environments`: an object of environment ids to settings (absent: none). */
function environmentSettings(value: unknown): JsonObject {
  if (value === undefined) return {};
  if (!isJsonObject(value)) throw bodyMalformed('environments must be an object of environment ids', 'environments');
  for (const [env, settings] of Object.entries(value)) {
    if (!ENV_KEY.test(env)) throw bodyMalformed(`"${env.slice(0, 64)}" is not an environment id`, 'environments');
    if (!isJsonObject(settings)) throw bodyMalformed(`environments.${env} must be an object`, 'environments');
    // `draft` and `definition` are in GrowthBook's schema but not read: a change recorded as applied would change nothing.
    onlyKeys(settings, ['enabled', 'rules']);
  }
  return value;
}

/** `environments` as the policy reads it, and `environment` when there is one (or `*` for several). */
function environmentFields(names: string[]): { environment?: string; environments: string[] } {
  const environments = [...new Set(names)];
  if (environments.length === 0) return { environments };
  return { environment: environments.length === 1 ? environments[0]! : ALL_ENVIRONMENTS, environments };
}

function write(method: string, target: string, contentType: string | null, body: Buffer, change: Omit<FlagChange, 'platform' | 'request'>): Classification {
  const forward = decidedRequest(method, target, contentType, body);
  return { kind: 'write', change: { platform: PLATFORM, ...change, request: { method, path: forward.target, bodySha256: forward.bodySha256 } }, forward };
}

/**
 * The decoded path segments: plain keys, and in the feature position a GrowthBook feature key
 * (which may hold `:` and `|`). ADAPT_ROUTE_UNKNOWN for anything that could be read two ways.
 */
function featureSegments(path: string): string[] {
  return path.slice(1).split('/').map((raw, i) => {
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch (cause) {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'path not accepted: bad percent-encoding', { cause, details: { path } });
    }
    const alphabet = i === 3 ? FEATURE_KEY : /^[A-Za-z0-9_.-]+$/;
    if (!alphabet.test(decoded) || decoded === '.' || decoded === '..') {
      throw new FlaggateError('ADAPT_ROUTE_UNKNOWN', 'path not accepted: a segment that is not a plain key (or an empty one)', { details: { path } });
    }
    return decoded;
  });
}

/** The path flaggate forwards, each segment encoded one way. */
function joinPath(segments: readonly string[]): string {
  return `/${segments.map(encodeURIComponent).join('/')}`;
}
