import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { importReach } from '../../../src/platforms/unleash/import-state.js';
import { classifyUnleash } from '../../../src/platforms/unleash/index.js';

const IMPORT = '/api/admin/features-batch/import';

function request(body: unknown): RawRequest {
  const buf = Buffer.from(JSON.stringify(body));
  return { method: 'POST', path: IMPORT, headers: { 'content-type': 'application/json' }, body: buf, bodySha256: createHash('sha256').update(buf).digest('hex') };
}

function payload(data: Record<string, unknown> = {}, top: Record<string, unknown> = {}): unknown {
  return { project: 'default', environment: 'production', data: { features: [{ name: 'b' }, { name: 'a', type: 'experiment' }], featureStrategies: [], tagTypes: [], ...data }, ...top };
}

function changeOf(body: unknown) {
  const got = classifyUnleash(request(body));
  if (got.kind !== 'write') throw new Error(`not a write: ${got.kind}`);
  return got;
}

describe('an Unleash import', () => {
  it('is one decision over every flag it names, each in the import\'s environment', () => {
    const { change, forward } = changeOf(
      payload({
        featureStrategies: [{ featureName: 'a', name: 'default', parameters: {}, constraints: [] }],
        featureEnvironments: [{ name: 'a', featureName: 'a', environment: 'production', enabled: true }],
      }),
    );
    expect(change).toMatchObject({
      action: 'flag.import',
      flagKey: 'a,b',
      project: 'default',
      environment: 'production',
      environments: ['production'],
      flags: [
        { flagKey: 'a', project: 'default', environments: ['production'] },
        { flagKey: 'b', project: 'default', environments: ['production'] },
      ],
    });
    // What Unleash stores: absent type and impression data default; strategies replace the environment's; tags go.
    expect(change.newState).toEqual({
      environment: 'production',
      contextFields: [],
      flags: {
        a: { type: 'experiment', description: null, impressionData: false, stale: false, enabled: true, strategies: [{ name: 'default', parameters: {}, constraints: [], variants: [], sortOrder: 0 }], tags: [] },
        b: { type: 'release', description: null, impressionData: false, stale: false, strategies: [], tags: [] },
      },
    });
    expect(forward).toMatchObject({ method: 'POST', target: IMPORT });
  });

  it.each([
    { name: 'a segment', data: { segments: [{ id: 1, name: 'vip' }] }, why: /segments/ },
    { name: 'a strategy using a segment', data: { featureStrategies: [{ featureName: 'a', name: 'default', segments: [1] }] }, why: /segments/ },
    { name: 'a tag', data: { featureTags: [{ featureName: 'a', tagType: 'simple', tagValue: 'x' }] }, why: /tags/ },
    { name: 'a tag type', data: { tagTypes: [{ name: 'team' }] }, why: /tag types/ },
    { name: 'a dependency', data: { dependencies: [{ feature: 'a', dependencies: [{ feature: 'b' }] }] }, why: /dependencies/ },
    { name: 'a link', data: { links: [{ feature: 'a', links: [{ url: 'https://x' }] }] }, why: /links/ },
    { name: 'a strategy of a flag it does not list', data: { featureStrategies: [{ featureName: 'other', name: 'default' }] }, why: /does not list/ },
    { name: 'an environment of a flag it does not list', data: { featureEnvironments: [{ name: 'other', featureName: 'other', enabled: true }] }, why: /does not list/ },
    // Unleash would add the project's default strategy, which the entry could not show.
    { name: 'a flag switched on without a strategy', data: { featureEnvironments: [{ name: 'a', featureName: 'a', enabled: true }] }, why: /without an active strategy/ },
    { name: 'a flag switched on with only a disabled strategy', data: { featureStrategies: [{ featureName: 'a', name: 'default', disabled: true }], featureEnvironments: [{ name: 'a', featureName: 'a', enabled: true }] }, why: /without an active strategy/ },
  ])('refuses by design an import carrying $name', ({ data, why }) => {
    expect(() => classifyUnleash(request(payload(data)))).toThrow(expect.objectContaining({ code: 'ADAPT_WRITE_UNRECOGNIZED', message: expect.stringMatching(why) }));
  });

  it.each([
    { name: 'an unknown top-level key', body: payload({}, { force: true }) },
    { name: 'an unknown data key', body: payload({ releasePlans: [] }) },
    { name: 'an unknown feature key', body: payload({ features: [{ name: 'a', enabled: true }] }) },
    { name: 'an unknown strategy key', body: payload({ featureStrategies: [{ featureName: 'a', name: 'default', strategyName: 'x' }] }) },
    { name: 'a stale feature', body: payload({ features: [{ name: 'a', stale: true }] }) },
    { name: 'an archived feature', body: payload({ features: [{ name: 'a', archived: true }] }) },
    { name: 'no features', body: payload({ features: [] }) },
    { name: 'a flag named twice', body: payload({ features: [{ name: 'a' }, { name: 'a' }] }) },
    { name: 'a feature of another project', body: payload({ features: [{ name: 'a', project: 'other' }] }) },
    // Unleash drops an environment entry without featureName, and reads name and featureName apart.
    { name: 'an environment entry without featureName', body: payload({ featureEnvironments: [{ name: 'a', enabled: true }] }) },
    { name: 'an environment entry naming two flags', body: payload({ featureEnvironments: [{ name: 'a', featureName: 'b', enabled: true }] }) },
    { name: 'an environment entry of another environment', body: payload({ featureEnvironments: [{ name: 'a', featureName: 'a', environment: 'development', enabled: true }] }) },
    { name: 'a flag switched twice', body: payload({ featureEnvironments: [{ name: 'a', featureName: 'a', enabled: false }, { name: 'a', featureName: 'a', enabled: false }] }) },
    { name: 'no environment', body: payload({}, { environment: undefined }) },
    // Unleash gives it the project's default stickiness, which the entry could not show.
    { name: 'a flexible rollout without a stickiness', body: payload({ featureStrategies: [{ featureName: 'a', name: 'flexibleRollout', parameters: { rollout: '5' }, constraints: [] }] }) },
    { name: 'a flexible rollout with an empty stickiness', body: payload({ featureStrategies: [{ featureName: 'a', name: 'flexibleRollout', parameters: { rollout: '5', stickiness: '' }, constraints: [] }] }) },
    // Unleash adds them in parallel: without sort orders of their own, ties are served in the order of new ids.
    { name: 'two strategies of a flag without sort orders', body: payload({ featureStrategies: [{ featureName: 'a', name: 'default', title: 'first' }, { featureName: 'a', name: 'default', title: 'second' }] }) },
    { name: 'two strategies of a flag with the same sort order', body: payload({ featureStrategies: [{ featureName: 'a', name: 'default', sortOrder: 1 }, { featureName: 'a', name: 'default', sortOrder: 1 }] }) },
  ])('refuses as malformed an import with $name', ({ body }) => {
    expect(() => classifyUnleash(request(body))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it('takes strategies of a flag with sort orders of their own, and one strategy without', () => {
    expect(() => changeOf(payload({ featureStrategies: [{ featureName: 'a', name: 'default', sortOrder: 2 }, { featureName: 'a', name: 'default', sortOrder: 0 }, { featureName: 'b', name: 'default' }] }))).not.toThrow();
  });

  it('records strategies as Unleash stores them: constraints with a values list, variants as a list, a lone one first', () => {
    const { change } = changeOf(payload({ featureStrategies: [{ featureName: 'a', name: 'default', constraints: [{ contextName: 'userId', operator: 'NUM_GT', value: '5' }] }] }));
    const [strategy] = (change.newState as { flags: Record<string, { strategies: unknown[] }> }).flags.a!.strategies;
    expect(strategy).toEqual({ name: 'default', constraints: [{ contextName: 'userId', operator: 'NUM_GT', value: '5', values: [] }], variants: [], sortOrder: 0 });
  });

  it("takes an unedited export's stale and archived (false) and strategy ids, and records none of them", () => {
    const { change } = changeOf(payload({ features: [{ name: 'a', stale: false, archived: false }, { name: 'b' }], featureStrategies: [{ featureName: 'a', name: 'default', id: 'from-export' }] }));
    const a = (change.newState as { flags: Record<string, { stale: boolean; strategies: Array<Record<string, unknown>> }> }).flags.a!;
    expect(a.stale).toBe(false);
    expect(a.strategies[0]).not.toHaveProperty('id');
  });

  it('records a description left out or empty as none: Unleash clears an existing flag\'s', () => {
    const { change } = changeOf(payload({ features: [{ name: 'a' }, { name: 'b', description: '' }, { name: 'c', description: 'kept' }] }));
    const flags = (change.newState as { flags: Record<string, { description: unknown }> }).flags;
    expect([flags.a!.description, flags.b!.description, flags.c!.description]).toEqual([null, null, 'kept']);
  });

  it('records variants and rollouts as Unleash stores them: weights shared out, a flexible rollout without one at 100', () => {
    const variant = (name: string, weight: number) => ({ name, weight, weightType: 'variable', stickiness: 'default' });
    const { change } = changeOf(
      payload({
        featureStrategies: [{ featureName: 'a', name: 'flexibleRollout', parameters: { stickiness: 'default' }, constraints: [], variants: [variant('on', 100), variant('off', 900)] }],
        featureEnvironments: [{ name: 'a', featureName: 'a', environment: 'production', enabled: true, variants: [variant('y', 50), variant('x', 950)] }],
      }),
    );
    const a = (change.newState as { flags: Record<string, { strategies: Array<Record<string, unknown>>; variants: unknown }> }).flags.a!;
    expect(a.strategies[0]).toMatchObject({ rollout: 100, parameters: { stickiness: 'default', groupId: 'a' }, variants: [variant('off', 500), variant('on', 500)] });
    expect(a.variants).toEqual([variant('x', 500), variant('y', 500)]);
  });

  it('alters every environment of an existing flag whose type or impression data it changes', () => {
    const { change } = changeOf(payload());
    const before = {
      flags: {
        a: { exists: true, type: 'release', impressionData: false },
        b: { exists: true, type: 'release', impressionData: false },
      },
      contextFields: [],
    };
    expect(importReach(change, before)).toEqual({
      flags: [
        { flagKey: 'a', project: 'default', environments: ['*'] },
        { flagKey: 'b', project: 'default', environments: ['production'] },
      ],
      environments: ['*', 'production'],
      environment: '*',
    });
    // A new flag alters only the import's environment.
    expect(importReach(change, { flags: { a: { exists: false }, b: { exists: false } }, contextFields: [] })).toMatchObject({ environment: 'production', environments: ['production'] });
  });
});
