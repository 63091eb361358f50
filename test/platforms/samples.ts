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
const definition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' };

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
  unleash: {
    writes: [
      { name: 'enable with a query', method: 'POST', target: `${P}/checkout/environments/production/on?shouldActivateDisabledStrategies=true` },
      { name: 'create', method: 'POST', target: P, headers: JSON_TYPE, body: JSON.stringify({ name: 'checkout', type: 'release' }) },
      { name: 'update', method: 'PUT', target: `${P}/checkout`, headers: JSON_TYPE, body: JSON.stringify({ description: 'd' }) },
      { name: 'patch', method: 'PATCH', target: `${P}/checkout`, headers: JSON_TYPE, body: JSON.stringify([{ op: 'replace', path: '/description', value: 'x' }]) },
      { name: 'strategy', method: 'POST', target: `${P}/checkout/environments/production/strategies`, headers: JSON_TYPE,
        body: JSON.stringify({ name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'default', groupId: 'checkout' } }) },
      { name: 'archive', method: 'DELETE', target: `${P}/checkout` },
    ],
    reads: [{ name: 'one feature', method: 'GET', target: `${P}/checkout` }],
  },
};
