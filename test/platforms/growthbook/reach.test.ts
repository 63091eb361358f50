import { describe, expect, it } from 'vitest';
import type { FlagChange } from '../../../src/platforms/index.js';
import { growthBookReach, reachedEnvironments } from '../../../src/platforms/growthbook/reach.js';

const request = { method: 'POST', path: '/api/v1/features/f', bodySha256: '0'.repeat(64) };
const change = (action: string, environments: string[], newState: unknown = {}): FlagChange => ({ platform: 'growthbook', action, flagKey: 'f', environments, newState, request });
const tree = {
  dev: { defaultState: true },
  staging: { defaultState: false },
  production: { defaultState: true },
  'live-eu': { defaultState: false, parent: 'production' },
  'live-eu-2': { defaultState: false, parent: 'live-eu' },
};

describe('the environments a GrowthBook write reaches', () => {
  it('adds every environment that inherits, to any depth', () => {
    expect(reachedEnvironments(change('flag.update', ['production']), tree)).toEqual(['live-eu', 'live-eu-2', 'production']);
    expect(reachedEnvironments(change('flag.enable', ['staging']), tree)).toEqual(['staging']);
  });

  it("adds a new feature's environments on by default, unless the body turns one off", () => {
    expect(reachedEnvironments(change('flag.create', []), tree)).toEqual(['dev', 'live-eu', 'live-eu-2', 'production']);
    expect(reachedEnvironments(change('flag.create', [], { environments: { production: { enabled: false } } }), { dev: tree.dev, production: tree.production })).toEqual(['dev']);
  });

  it('leaves every environment (*) and a change without a tree as they are; reach says only what widens', () => {
    expect(reachedEnvironments(change('flag.update', ['*']), tree)).toEqual(['*']);
    expect(reachedEnvironments(change('flag.update', ['production']), undefined)).toEqual(['production']);
    expect(growthBookReach(change('flag.enable', ['staging']), { exists: true, environmentTree: tree })).toBeUndefined();
    expect(growthBookReach(change('flag.enable', ['production']), { exists: true, environmentTree: tree })).toEqual({ environments: ['live-eu', 'live-eu-2', 'production'], environment: '*' });
    expect(growthBookReach(change('flag.create', []), { exists: false, environmentTree: { dev: tree.dev } })).toEqual({ environments: ['dev'], environment: 'dev' });
  });
});
