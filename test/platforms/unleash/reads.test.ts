import { describe, expect, it } from 'vitest';
import { createUnleashAdapter } from '../../../src/platforms/unleash/index.js';
import { rawRequest } from '../../support/raw-request.js';

const adapter = createUnleashAdapter({ baseUrl: 'http://127.0.0.1:1', token: 't', timeoutMs: 1000 });

describe('Unleash reads', () => {
  it.each([
    '/api/admin/projects',
    '/api/admin/projects/default',
    '/api/admin/projects/default/features',
    '/api/admin/projects/default/features/checkout.v2',
    '/api/admin/projects/default/features/checkout.v2/environments/production',
    '/api/admin/features/checkout.v2',
    '/api/admin/archive/features',
    '/api/admin/environments',
    '/api/admin/strategies',
    '/api/admin/segments',
    '/api/admin/search/features?query=checkout',
    '/api/admin/features/checkout.v2/tags',
    '/api/client/features',
  ])('passes the flag read %s through', (path) => {
    expect(adapter.classify(rawRequest('GET', path)).kind).toBe('read');
  });

  it.each([
    '/api/admin/api-tokens',
    '/api/admin/user-admin',
    '/api/admin/user-admin/1',
    '/api/admin/roles',
    '/api/admin/service-account',
    '/api/admin/projects/default/api-tokens',
    '/api/admin/projects/default/access',
    '/api/admin/events',
    '/api/admin/search/events',
    '/api/admin/instance-admin/statistics',
    '/api/frontend',
  ])('rejects the administrative read %s with ADAPT_ROUTE_UNKNOWN', (path) => {
    expect(() => adapter.classify(rawRequest('GET', path))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
  });
});

describe('Unleash writes with a query string', () => {
  it('carries the query into the new state the policy sees and the entry records', () => {
    const got = adapter.classify(rawRequest('POST', '/api/admin/projects/default/features/f/environments/production/on?shouldActivateDisabledStrategies=true'));
    expect(got).toMatchObject({ kind: 'write', change: { action: 'flag.enable', newState: { enabled: true, query: { shouldActivateDisabledStrategies: 'true' } } } });
  });
});
