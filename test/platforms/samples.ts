/**
 * Sample requests every registered platform provides for the contract suite: at least one write
 * of each body kind it takes and one read. A platform added to the registry without samples here
 * fails the suite.
 */
export interface SampleRequest {
  name: string;
  method: string;
  target: string;
  headers?: Record<string, string>;
  body?: string;
}

const JSON_TYPE = { 'content-type': 'application/json' };
const P = '/api/admin/projects/default/features';
const FS = '/api/v1';
const LD = '/api/v2/flags/default';
const GB = '/api/v1/features';
const FS_ENV = 'cixtMCKvBWcWy75rGMTNRL';
const definition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' };

/** Settings a platform needs beyond the shared ones (the REST mapping), for the contract suite. */
export const platformSettings: Record<string, Record<string, unknown>> = {
  rest: {
    rest: {
      credentialHeader: 'X-Api-Key',
      credentialFormat: '{token}',
      reads: ['GET /api/flags', 'GET /api/flags/{flag}'],
      state: 'GET /api/flags/{flag}',
      writes: [
        { route: 'POST /api/flags', action: 'flag.create', flagKey: 'body:/name' },
        { route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env' },
        { route: 'POST /api/envs/{environment}/flags/{flag}/on', action: 'flag.enable', mediaType: 'none' },
        { route: 'PUT /api/flags/{flag}/rules', action: 'flag.update', newState: 'body:/rules', mediaType: 'application/vnd.flags+json' },
        { route: 'DELETE /api/flags/{flag}', action: 'flag.delete' },
      ],
    },
  },
};

export const platformSamples: Record<string, { writes: SampleRequest[]; reads: SampleRequest[] }> = {
  flagd: {
    writes: [
      { name: 'enable', method: 'POST', target: '/flags/checkout.new-flow/enable' },
      { name: 'update', method: 'PUT', target: '/flags/checkout.new-flow', headers: JSON_TYPE, body: JSON.stringify(definition) },
      { name: 'create', method: 'POST', target: '/flags', headers: JSON_TYPE, body: JSON.stringify({ key: 'n.k', ...definition }) },
      { name: 'delete', method: 'DELETE', target: '/flags/checkout.new-flow' },
    ],
    reads: [{ name: 'one flag', method: 'GET', target: '/flags/checkout.new-flow' }],
  },
  flagsmith: {
    writes: [
      { name: 'create', method: 'POST', target: `${FS}/projects/1/features/`, headers: JSON_TYPE, body: JSON.stringify({ name: 'dark_mode', default_enabled: false, type: 'STANDARD' }) },
      { name: 'update', method: 'PATCH', target: `${FS}/projects/1/features/1/`, headers: JSON_TYPE, body: JSON.stringify({ description: 'Dark theme (beta)' }) },
      { name: 'delete', method: 'DELETE', target: `${FS}/projects/1/features/3/` },
      { name: 'enable', method: 'PATCH', target: `${FS}/environments/${FS_ENV}/featurestates/1/`, headers: JSON_TYPE, body: JSON.stringify({ enabled: true }) },
      { name: 'value', method: 'PATCH', target: `${FS}/environments/${FS_ENV}/featurestates/3/`, headers: JSON_TYPE, body: JSON.stringify({ feature_state_value: 'green' }) },
      { name: 'segment override', method: 'POST', target: `${FS}/environments/${FS_ENV}/features/2/create-segment-override/`, headers: JSON_TYPE,
        body: JSON.stringify({ feature_segment: { segment: 1 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'purple' } }) },
      { name: 'segment override update', method: 'PATCH', target: `${FS}/features/featurestates/7/`, headers: JSON_TYPE, body: JSON.stringify({ enabled: false, environment: 1, feature: 2 }) },
      { name: 'segment override delete', method: 'DELETE', target: `${FS}/features/feature-segments/1/` },
      { name: 'identity override', method: 'POST', target: `${FS}/environments/${FS_ENV}/identities/1/featurestates/`, headers: JSON_TYPE,
        body: JSON.stringify({ feature: 2, enabled: true, feature_state_value: 'vip-gold' }) },
      { name: 'identity override delete', method: 'DELETE', target: `${FS}/environments/${FS_ENV}/identities/1/featurestates/9/` },
      { name: 'future', method: 'PATCH', target: `/api/__future__/environments/${FS_ENV}/features/2/`, headers: JSON_TYPE,
        body: JSON.stringify({ environment_default: { enabled: true, value: { type: 'string', value: 'teal' } } }) },
      { name: 'variant', method: 'PUT', target: `${FS}/projects/1/features/5/mv-options/3/`, headers: JSON_TYPE,
        body: JSON.stringify({ feature: 5, type: 'unicode', string_value: 'variant_c2', default_percentage_allocation: 15 }) },
    ],
    reads: [
      { name: 'features', method: 'GET', target: `${FS}/projects/1/features/?environment=1` },
      { name: 'feature states', method: 'GET', target: `${FS}/environments/${FS_ENV}/featurestates/?feature=2` },
    ],
  },
  growthbook: {
    writes: [
      { name: 'create', method: 'POST', target: GB, headers: JSON_TYPE,
        body: JSON.stringify({ id: 'checkout', owner: 'riley@example.com', valueType: 'boolean', defaultValue: 'false', environments: { dev: { enabled: true, rules: [] } } }) },
      { name: 'update rules', method: 'POST', target: `${GB}/checkout`, headers: JSON_TYPE,
        body: JSON.stringify({ environments: { production: { enabled: true, rules: [{ type: 'rollout', value: 'true', coverage: 0.1, hashAttribute: 'id' }] } } }) },
      { name: 'update default value', method: 'POST', target: `${GB}/checkout`, headers: JSON_TYPE, body: JSON.stringify({ defaultValue: 'true', ignoreWarnings: true }) },
      { name: 'toggle', method: 'POST', target: `${GB}/checkout/toggle`, headers: JSON_TYPE, body: JSON.stringify({ reason: 'launch', environments: { production: true } }) },
      { name: 'revert', method: 'POST', target: `${GB}/checkout/revert`, headers: JSON_TYPE, body: JSON.stringify({ revision: 2, comment: 'back' }) },
      { name: 'delete', method: 'DELETE', target: `${GB}/checkout` },
    ],
    reads: [
      { name: 'features', method: 'GET', target: `${GB}?limit=10&offset=0` },
      { name: 'one feature', method: 'GET', target: `${GB}/checkout` },
    ],
  },
  launchdarkly: {
    writes: [
      { name: 'create', method: 'POST', target: LD, headers: JSON_TYPE, body: JSON.stringify({ key: 'checkout', name: 'Checkout', variations: [{ value: true }, { value: false }] }) },
      { name: 'delete', method: 'DELETE', target: `${LD}/checkout` },
      { name: 'json patch', method: 'PATCH', target: `${LD}/checkout`, headers: JSON_TYPE,
        body: JSON.stringify({ patch: [{ op: 'replace', path: '/environments/production/on', value: true }], comment: 'launch' }) },
      { name: 'merge patch', method: 'PATCH', target: `${LD}/checkout`, headers: { 'content-type': 'application/merge-patch+json' }, body: JSON.stringify({ description: 'd' }) },
      { name: 'semantic patch', method: 'PATCH', target: `${LD}/checkout?ignoreConflicts=false`, headers: { 'content-type': 'application/json; domain-model=launchdarkly.semanticpatch' },
        body: JSON.stringify({ environmentKey: 'production', instructions: [{ kind: 'turnFlagOff' }], comment: 'incident' }) },
    ],
    reads: [{ name: 'one flag', method: 'GET', target: `${LD}/checkout?env=production` }],
  },
  rest: {
    writes: [
      { name: 'create', method: 'POST', target: '/api/flags', headers: JSON_TYPE, body: JSON.stringify({ name: 'checkout', enabled: false }) },
      { name: 'update with a query', method: 'PATCH', target: '/api/flags/checkout?env=staging', headers: JSON_TYPE, body: JSON.stringify({ enabled: true }) },
      { name: 'no body', method: 'POST', target: '/api/envs/production/flags/checkout/on' },
      { name: 'own media type', method: 'PUT', target: '/api/flags/checkout/rules', headers: { 'content-type': 'application/vnd.flags+json' }, body: JSON.stringify({ rules: [{ percent: 10 }] }) },
      { name: 'delete', method: 'DELETE', target: '/api/flags/checkout' },
    ],
    reads: [{ name: 'one flag', method: 'GET', target: '/api/flags/checkout?verbose=1' }],
  },
  unleash: {
    writes: [
      { name: 'enable with a query', method: 'POST', target: `${P}/checkout/environments/production/on?shouldActivateDisabledStrategies=true` },
      { name: 'create', method: 'POST', target: P, headers: JSON_TYPE, body: JSON.stringify({ name: 'checkout', type: 'release' }) },
      { name: 'update', method: 'PUT', target: `${P}/checkout`, headers: JSON_TYPE, body: JSON.stringify({ description: 'd' }) },
      { name: 'patch', method: 'PATCH', target: `${P}/checkout`, headers: JSON_TYPE, body: JSON.stringify([{ op: 'replace', path: '/description', value: 'x' }]) },
      { name: 'strategy', method: 'POST', target: `${P}/checkout/environments/production/strategies`, headers: JSON_TYPE,
        body: JSON.stringify({ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'default', groupId: 'checkout' } }) },
      { name: 'archive', method: 'DELETE', target: `${P}/checkout` },
      { name: 'variants', method: 'PUT', target: `${P}/checkout/environments/production/variants`, headers: JSON_TYPE,
        body: JSON.stringify([{ name: 'a', weight: 1000, weightType: 'variable', stickiness: 'default' }]) },
      { name: 'variants patch', method: 'PATCH', target: `${P}/checkout/environments/production/variants`, headers: JSON_TYPE,
        body: JSON.stringify([{ op: 'replace', path: '/0/name', value: 'renamed' }]) },
      { name: 'variants batch', method: 'PUT', target: `${P}/checkout/variants-batch`, headers: JSON_TYPE,
        body: JSON.stringify({ variants: [], environments: ['production'] }) },
      { name: 'strategy sort order', method: 'POST', target: `${P}/checkout/environments/production/strategies/set-sort-order`, headers: JSON_TYPE,
        body: JSON.stringify([{ id: 's-1', sortOrder: 1 }]) },
      { name: 'clone', method: 'POST', target: `${P}/checkout/clone`, headers: JSON_TYPE, body: JSON.stringify({ name: 'checkout-2' }) },
      { name: 'dependency', method: 'POST', target: `${P}/checkout/dependencies`, headers: JSON_TYPE, body: JSON.stringify({ feature: 'parent' }) },
      { name: 'dependency removed', method: 'DELETE', target: `${P}/checkout/dependencies/parent` },
      { name: 'lifecycle complete', method: 'POST', target: `${P}/checkout/lifecycle/complete`, headers: JSON_TYPE, body: JSON.stringify({ status: 'kept' }) },
      { name: 'link', method: 'POST', target: `${P}/checkout/link`, headers: JSON_TYPE, body: JSON.stringify({ url: 'https://x.test/1' }) },
      { name: 'tag', method: 'POST', target: '/api/admin/features/checkout/tags', headers: JSON_TYPE, body: JSON.stringify({ type: 'simple', value: 'v1' }) },
      { name: 'tags update', method: 'PUT', target: '/api/admin/features/checkout/tags', headers: JSON_TYPE,
        body: JSON.stringify({ addedTags: [{ type: 'simple', value: 'v1' }], removedTags: [] }) },
      { name: 'one-flag bulk toggle', method: 'POST', target: '/api/admin/projects/default/bulk_features/environments/production/off', headers: JSON_TYPE,
        body: JSON.stringify({ features: ['checkout'] }) },
      { name: 'one-flag stale', method: 'POST', target: '/api/admin/projects/default/stale', headers: JSON_TYPE,
        body: JSON.stringify({ features: ['checkout'], stale: true }) },
    ],
    reads: [
      { name: 'one feature', method: 'GET', target: `${P}/checkout` },
      { name: 'a validate operation', method: 'POST', target: '/api/admin/features/validate', headers: JSON_TYPE, body: JSON.stringify({ name: 'n' }) },
    ],
  },
};
