/**
 * The Flagsmith admin API writes flaggate understands (Flagsmith 2.265, its OpenAPI document and
 * recorded exchanges), and how paths are matched. Django routes these paths with the trailing
 * slash, case-sensitively; every parameter is a number or a plain key, so nothing in a path can be
 * read two ways once flaggate has checked it.
 */
import { plainSegments } from '../request/index.js';

export type FlagsmithAction =
  | 'flag.create'
  | 'flag.update'
  | 'flag.delete'
  | 'flag.enable'
  | 'flag.disable'
  | 'segment_override.create'
  | 'segment_override.update'
  | 'segment_override.delete'
  | 'identity_override.create'
  | 'identity_override.update'
  | 'identity_override.delete'
  | 'variant.create'
  | 'variant.update'
  | 'variant.delete';

/** What a route's path names, and so what `readState` reads before the change. */
export type Subject =
  | 'feature' // a feature of a project, all environments
  | 'feature-state' // an environment's feature state (enabled, value)
  | 'nested-feature-state' // /features/featurestates/{id}: any feature state, named by id only
  | 'feature-segment' // a segment override's link, named by id only
  | 'identity-override'
  | 'future-feature' // /api/__future__/: a feature's state in one environment, overrides included
  | 'variant';

export interface WriteRoute {
  method: 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** `/`-separated, trailing slash included; `:name` is a parameter. */
  pattern: string;
  action: FlagsmithAction;
  subject: Subject;
  /** Top-level body keys the route takes (from the OpenAPI document and the recorded exchanges); null: no body. */
  body: readonly string[] | null;
  /**
   * Body keys Flagsmith reads as read-only on this route (`readOnly` in its OpenAPI document): its
   * own clients send them back whole, and Django REST framework drops them, so they are taken but
   * left out of the new state, which shows only what the change can apply.
   */
  ignored?: readonly string[];
}

const PROJECT_FEATURES = '/api/v1/projects/:project/features/';
const FEATURE = `${PROJECT_FEATURES}:feature/`;
const ENV = '/api/v1/environments/:environment/';
const FEATURE_STATE = `${ENV}featurestates/:featureState/`;
const IDENTITY_STATES = `${ENV}identities/:identity/featurestates/`;
const FUTURE = '/api/__future__/environments/:environment/features/:feature/';

const FEATURE_CREATE = ['name', 'type', 'default_enabled', 'initial_value', 'description', 'tags', 'multivariate_options', 'is_archived', 'owners', 'group_owners', 'is_server_key_only', 'metadata'];
const FEATURE_UPDATE = ['type', 'description', 'tags', 'multivariate_options', 'is_archived', 'is_server_key_only', 'metadata'];
const FEATURE_READ_ONLY = ['name', 'default_enabled', 'initial_value'];
const STATE_UPDATE = ['feature', 'enabled', 'feature_state_value', 'multivariate_feature_state_values'];
// PATCH takes FeatureStateSerializerCreate: allocations sent here are dropped (recording 076) while
// the answer is 200, so they are refused; PUT, or /api/v1/features/featurestates/{id}/, sets them.
const STATE_PATCH = ['feature', 'enabled', 'feature_state_value'];
const NESTED_STATE = ['feature', 'environment', 'enabled', 'feature_state_value', 'multivariate_feature_state_values', 'feature_segment', 'identity', 'live_from'];
const SEGMENT_OVERRIDE = ['enabled', 'feature_state_value', 'feature_segment', 'multivariate_feature_state_values'];
const IDENTITY_OVERRIDE = ['feature', 'enabled', 'feature_state_value', 'multivariate_feature_state_values'];
const FUTURE_FLAG = ['environment_default', 'segment_overrides'];
const VARIANT = ['feature', 'type', 'integer_value', 'string_value', 'boolean_value', 'default_percentage_allocation', 'key'];

/** Every recognized write. Any other POST, PUT, PATCH or DELETE is an unrecognized write. */
export const writeRoutes: readonly WriteRoute[] = [
  { method: 'POST', pattern: PROJECT_FEATURES, action: 'flag.create', subject: 'feature', body: FEATURE_CREATE },
  { method: 'PUT', pattern: FEATURE, action: 'flag.update', subject: 'feature', body: FEATURE_UPDATE, ignored: FEATURE_READ_ONLY },
  { method: 'PATCH', pattern: FEATURE, action: 'flag.update', subject: 'feature', body: FEATURE_UPDATE, ignored: FEATURE_READ_ONLY },
  { method: 'DELETE', pattern: FEATURE, action: 'flag.delete', subject: 'feature', body: null },
  { method: 'PUT', pattern: FEATURE_STATE, action: 'flag.update', subject: 'feature-state', body: STATE_UPDATE },
  { method: 'PATCH', pattern: FEATURE_STATE, action: 'flag.update', subject: 'feature-state', body: STATE_PATCH },
  { method: 'POST', pattern: `${ENV}features/:feature/create-segment-override/`, action: 'segment_override.create', subject: 'feature', body: SEGMENT_OVERRIDE },
  { method: 'PUT', pattern: '/api/v1/features/featurestates/:featureState/', action: 'segment_override.update', subject: 'nested-feature-state', body: NESTED_STATE },
  { method: 'PATCH', pattern: '/api/v1/features/featurestates/:featureState/', action: 'segment_override.update', subject: 'nested-feature-state', body: NESTED_STATE },
  { method: 'DELETE', pattern: '/api/v1/features/feature-segments/:featureSegment/', action: 'segment_override.delete', subject: 'feature-segment', body: null },
  { method: 'POST', pattern: IDENTITY_STATES, action: 'identity_override.create', subject: 'identity-override', body: IDENTITY_OVERRIDE },
  { method: 'PUT', pattern: `${IDENTITY_STATES}:featureState/`, action: 'identity_override.update', subject: 'identity-override', body: IDENTITY_OVERRIDE },
  { method: 'PATCH', pattern: `${IDENTITY_STATES}:featureState/`, action: 'identity_override.update', subject: 'identity-override', body: STATE_PATCH },
  { method: 'DELETE', pattern: `${IDENTITY_STATES}:featureState/`, action: 'identity_override.delete', subject: 'identity-override', body: null },
  { method: 'PUT', pattern: FUTURE, action: 'flag.update', subject: 'future-feature', body: FUTURE_FLAG },
  { method: 'PATCH', pattern: FUTURE, action: 'flag.update', subject: 'future-feature', body: FUTURE_FLAG },
  { method: 'DELETE', pattern: `${FUTURE}segment-overrides/:segment/`, action: 'segment_override.delete', subject: 'future-feature', body: null },
  { method: 'POST', pattern: `${FEATURE}mv-options/`, action: 'variant.create', subject: 'variant', body: VARIANT },
  { method: 'PUT', pattern: `${FEATURE}mv-options/:variant/`, action: 'variant.update', subject: 'variant', body: VARIANT },
  { method: 'PATCH', pattern: `${FEATURE}mv-options/:variant/`, action: 'variant.update', subject: 'variant', body: VARIANT },
  { method: 'DELETE', pattern: `${FEATURE}mv-options/:variant/`, action: 'variant.delete', subject: 'variant', body: null },
];

/** Parameters that are database ids; the rest (`environment`) are client-side environment keys. */
const NUMERIC = /^[1-9][0-9]{0,15}$/;
const ENV_KEY = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The decoded segments of an origin-form path (no query). A missing trailing slash is added: Django
 * would redirect, and the forwarded path always has it. Throws ADAPT_ROUTE_UNKNOWN for empty
 * segments, bad percent-encoding and anything that is not a plain name once decoded.
 */
export function splitPath(path: string): string[] {
  return plainSegments(path.endsWith('/') ? path.slice(0, -1) : path);
}

/** The path flaggate forwards: plain segments (checked above), with Django's trailing slash. */
export function joinPath(segments: readonly string[]): string {
  return `/${segments.join('/')}/`;
}

const compiled = writeRoutes.map((route) => ({ route, parts: route.pattern.slice(1, -1).split('/') }));

/**
 * The write route `method` and `segments` hit, with its parameters; undefined if none. A parameter
 * of the wrong form (a name where Flagsmith takes an id) means no route: Django would answer 404.
 */
export function matchWrite(method: string, segments: readonly string[]): { route: WriteRoute; params: Record<string, string> } | undefined {
  for (const { route, parts } of compiled) {
    if (route.method !== method || parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const hit = parts.every((part, i) => {
      const seg = segments[i]!;
      if (!part.startsWith(':')) return seg === part;
      const name = part.slice(1);
      if (!(name === 'environment' ? ENV_KEY : NUMERIC).test(seg)) return false;
      params[name] = seg;
      return true;
    });
    if (hit) return { route, params };
  }
  return undefined;
}

/** The admin API reads a flag tool needs: features, their states, segments, identities' overrides, environments. */
export function isFlagRead(segments: readonly string[]): boolean {
  const [api, version, area, , sub] = segments;
  if (api !== 'api') return false;
  if (version === '__future__') return area === 'environments' && segments[4] === 'features';
  if (version !== 'v1') return false;
  if (area === 'projects') return sub === 'features' || sub === 'segments';
  if (area === 'environments') return segments.length === 3 || sub === undefined || sub === 'featurestates' || sub === 'identities';
  if (area === 'features') return segments[3] === 'featurestates' || segments[3] === 'feature-segments';
  return false;
}
