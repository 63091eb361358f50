import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { classifyUnleash } from '../../../src/platforms/unleash/classify.js';
import { UNLEASH_TYPES_FILE, unleashTypesModule, type RecordedUnleashSchemas } from '../../../src/platforms/unleash/request-types-code.js';
import { writeRoutes } from '../../../src/platforms/unleash/routes.js';
import { rawRequest } from '../../support/raw-request.js';

const recorded = JSON.parse(readFileSync(new URL('../../fixtures/unleash/request-schemas.json', import.meta.url), 'utf8')) as RecordedUnleashSchemas;
const P = '/api/admin/projects/default/features';
const STRATEGIES = `${P}/checkout/environments/production/strategies`;

function refusal(method: string, path: string, body: unknown): unknown {
  try {
    classifyUnleash(rawRequest(method, path, JSON.stringify(body), { 'content-type': 'application/json' }));
  } catch (err) {
    return err;
  }
  return undefined;
}

describe("Unleash's own type coercion", () => {
  it('keeps the generated checks equal to what the recorded schemas write', () => {
    const kept = readFileSync(new URL(`../../../${UNLEASH_TYPES_FILE}`, import.meta.url), 'utf8');
    expect(kept === unleashTypesModule(recorded), 'run: npm run write:unleash-types').toBe(true);
  });

  it('has a recorded schema for every write with a body (a new route is recorded first)', () => {
    const withBody = writeRoutes.filter((r) => r.body !== 'none').map((r) => `${r.method} ${r.pattern}`);
    expect(withBody.filter((key) => !(key in recorded.routes))).toEqual([]);
    expect(recorded.source).toMatch(/^unleash-server \d+\.\d+\.\d+, GET \/docs\/openapi\.json$/);
  });

  it.each([
    ['an inverted constraint as a string', 'POST', STRATEGIES, { name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'], inverted: 'true' }] }, '/constraints/0/inverted'],
    ['a case-insensitive constraint as 1', 'POST', STRATEGIES, { name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'], caseInsensitive: 1 }] }, '/constraints/0/caseInsensitive'],
    ['a rollout as a number (its parameters are strings)', 'POST', STRATEGIES, { name: 'flexibleRollout', parameters: { rollout: 50 } }, '/parameters/rollout'],
    ['a null constraint value', 'POST', STRATEGIES, { name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: [null] }] }, '/constraints/0/values/0'],
    ['impression data as "false"', 'PUT', `${P}/checkout`, { type: 'release', impressionData: 'false' }, '/impressionData'],
    ['a flag name as a number', 'POST', P, { name: 1, type: 'release' }, '/name'],
    ['a null description where the schema takes none (Unleash stores "")', 'PUT', `${P}/checkout`, { type: 'release', description: null }, '/description'],
    ['a variant weight as a string', 'PUT', `${P}/checkout/environments/production/variants`, [{ name: 'a', weight: '1000', weightType: 'variable' }], '/0/weight'],
  ])('refuses %s, naming the member', (_name, method, path, body, field) => {
    expect(refusal(method, path, body)).toMatchObject({ code: 'ADAPT_BODY_MALFORMED', details: { field } });
  });

  it.each([
    ['a strategy in its declared types', 'POST', STRATEGIES, { name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default' }, constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'], inverted: true }], disabled: false }],
    ['a flag update in its declared types', 'PUT', `${P}/checkout`, { type: 'release', impressionData: false, description: 'x' }],
    ['a null description where the schema takes one', 'POST', P, { name: 'new.flag', description: null }],
    ['a body Unleash refuses on its own (an unknown member): refused there, changing nothing', 'POST', P, { name: 'new.flag', nonsense: true }],
  ])('forwards %s', (_name, method, path, body) => {
    expect(refusal(method, path, body)).toBeUndefined();
  });
});
