import { describe, expect, it } from 'vitest';
import { decidedRequest } from '../../../src/platforms/request/index.js';
import { savedInParts } from '../../../src/platforms/flagsmith/saved-in-parts.js';

const ENV = 'ENV_KEY_1';
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('savedInParts: the Flagsmith writes whose refusal may come after part of them is stored', () => {
  it.each([
    ['PUT', `/api/v1/environments/${ENV}/featurestates/7/`, { feature: 2, enabled: true, feature_state_value: 'x' }],
    // drf-writable-nested: the outer row first, then the value and each allocation.
    ['POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, { enabled: true, feature_segment: { segment: 3 }, feature_state_value: { type: 'unicode', string_value: 'x' } }],
    ['PUT', '/api/v1/features/featurestates/7/', { feature: 2, environment: 1, enabled: true, feature_state_value: { type: 'unicode', string_value: 'x' } }],
    ['PATCH', '/api/v1/features/featurestates/7/', { feature: 2, environment: 1, enabled: false }],
    // Allocations are nested rows saved after the state's own `enabled`.
    ['PUT', `/api/v1/environments/${ENV}/featurestates/7/`, { feature: 2, enabled: false, multivariate_feature_state_values: [{ multivariate_feature_option: 101, percentage_allocation: 30 }] }],
    ['POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, { feature: 2, enabled: true, multivariate_feature_state_values: [{ multivariate_feature_option: 101, percentage_allocation: 30 }] }],
    ['PATCH', `/api/v1/environments/${ENV}/featurestates/7/`, { feature_state_value: 5 }],
    ['PATCH', `/api/v1/environments/${ENV}/identities/3/featurestates/7/`, { feature_state_value: null }],
  ])('%s %s', (method, path, sent) => {
    expect(savedInParts(decidedRequest(method, path, 'application/json', body(sent)))).toBe(true);
  });

  it.each([
    ['PATCH', `/api/v1/environments/${ENV}/featurestates/7/`, { enabled: false }],
    ['POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, { feature: 2, feature_state_value: 'x' }],
    ['PATCH', '/api/v1/projects/1/features/2/', { description: 'd' }],
  ])('not %s %s', (method, path, sent) => {
    expect(savedInParts(decidedRequest(method, path, 'application/json', body(sent)))).toBe(false);
  });
});
