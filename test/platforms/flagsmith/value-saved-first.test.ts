import { describe, expect, it } from 'vitest';
import { decidedRequest } from '../../../src/platforms/request/index.js';
import { valueSavedFirst } from '../../../src/platforms/flagsmith/value-saved-first.js';

const ENV = 'ENV_KEY_1';
const body = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('valueSavedFirst: the Flagsmith updates whose refusal may come after the value is stored', () => {
  it.each([
    ['PUT', `/api/v1/environments/${ENV}/featurestates/7/`, { feature: 2, enabled: true, feature_state_value: 'x' }],
    ['PATCH', `/api/v1/environments/${ENV}/featurestates/7/`, { feature_state_value: 5 }],
    ['PATCH', `/api/v1/environments/${ENV}/identities/3/featurestates/7/`, { feature_state_value: null }],
  ])('%s %s with a value', (method, path, sent) => {
    expect(valueSavedFirst(decidedRequest(method, path, 'application/json', body(sent)))).toBe(true);
  });

  it.each([
    ['PATCH', `/api/v1/environments/${ENV}/featurestates/7/`, { enabled: false }],
    ['POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, { feature: 2, feature_state_value: 'x' }],
    ['PUT', '/api/v1/features/featurestates/7/', { feature: 2, environment: 1, enabled: true, feature_state_value: 'x' }],
    ['PATCH', '/api/v1/projects/1/features/2/', { description: 'd' }],
  ])('not %s %s', (method, path, sent) => {
    expect(valueSavedFirst(decidedRequest(method, path, 'application/json', body(sent)))).toBe(false);
  });
});
