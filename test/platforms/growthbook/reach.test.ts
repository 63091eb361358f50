import { describe, expect, it } from 'vitest';
import type { FlagChange } from '../../../src/platforms/index.js';
import { dependentsOf, type DependentIndex } from '../../../src/platforms/dependents.js';
import { indexPrerequisites } from '../../../src/platforms/growthbook/dependents.js';
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

  it('adds, for rules on a feature served beyond its project, every environment that serves it: GrowthBook stores a rule covering the environments of its project for all environments', () => {
    // production is limited to project payments; the feature lives in web and is targeted to payments.
    const scoped = { dev: { defaultState: true }, production: { defaultState: true, projects: ['payments'] }, ops: { defaultState: false, projects: ['ops'] } };
    const rules = { environments: { dev: { enabled: true, rules: [{ id: 'fr_1', type: 'force', value: 'true', condition: '{}' }] } } };
    const state = { exists: true, project: 'web', environmentTree: scoped };
    expect(growthBookReach(change('flag.update', ['dev'], rules), { ...state, targetingProjects: ['payments'] })).toEqual({ environments: ['dev', 'production'], environment: '*' });
    expect(growthBookReach(change('flag.update', ['dev'], rules), { ...state, targetingAllProjects: true })).toEqual({ environments: ['dev', 'ops', 'production'], environment: '*' });
    // Served only in its own project's environments, or a toggle without rules: the body's environments.
    expect(growthBookReach(change('flag.update', ['dev'], rules), state)).toBeUndefined();
    expect(growthBookReach(change('flag.update', ['dev'], { environments: { dev: { enabled: true } } }), { ...state, targetingProjects: ['payments'] })).toBeUndefined();
    // The scope the same body sets counts too: the rules are served under it.
    expect(growthBookReach(change('flag.update', ['dev'], { ...rules, targetingProjects: ['payments'] }), state)).toEqual({ environments: ['dev', 'production'], environment: '*' });
    expect(growthBookReach(change('flag.update', ['dev'], { ...rules, project: 'ops' }), state)).toEqual({ environments: ['dev', 'ops'], environment: '*' });
    // A new feature created in a project with rules for dev: its project is its own, served nowhere else.
    const devOnly = { dev: { defaultState: true }, production: { defaultState: false } };
    expect(growthBookReach(change('flag.create', ['dev'], { ...rules, project: 'web' }), { exists: false, environmentTree: devOnly })).toBeUndefined();
  });
});

describe('the features a GrowthBook write reaches through prerequisites', () => {
  const feature = (id: string, prerequisites: unknown[], rules: Record<string, unknown[]> = {}) => ({ id, prerequisites, environments: Object.fromEntries(Object.entries(rules).map(([env, r]) => [env, { enabled: true, rules: r }])) });

  const dependents = (id: string, features: Array<Record<string, unknown>>) => {
    const index: DependentIndex = new Map();
    for (const f of features) indexPrerequisites(index, f);
    return dependentsOf(id, index);
  };

  it("finds a feature's own prerequisite (every environment) and a rule's (its environment only)", () => {
    expect(dependents('f', [feature('g', ['f'])])).toEqual([{ flagKey: 'g', environments: ['*'] }]);
    expect(dependents('f', [feature('g', [], { production: [{ type: 'force', prerequisites: [{ id: 'f', condition: '{}' }] }], dev: [{ type: 'force' }] })])).toEqual([{ flagKey: 'g', environments: ['production'] }]);
    expect(dependents('f', [feature('g', ['other'], { dev: [{ prerequisites: [{ id: 'other' }] }] })])).toEqual([]);
    expect(dependents('f', [feature('f', ['f'])])).toEqual([]);
  });

  it('follows a chain of prerequisites, each link where the whole chain holds, and ends a cycle', () => {
    // f <- g (production rule) <- h (every environment) <- i (dev rule: the chain does not hold in dev)
    const chain = [feature('g', [], { production: [{ prerequisites: [{ id: 'f' }] }] }), feature('h', ['g']), feature('i', [], { dev: [{ prerequisites: [{ id: 'h' }] }] }), feature('f', ['h'])];
    expect(dependents('f', chain)).toEqual([{ flagKey: 'g', environments: ['production'] }, { flagKey: 'h', environments: ['production'] }]);
    expect(dependents('g', chain)).toEqual([{ flagKey: 'f', environments: ['*'] }, { flagKey: 'h', environments: ['*'] }, { flagKey: 'i', environments: ['dev'] }]);
  });

  it('lists each dependent in the environments it shares with the change, after the feature itself', () => {
    const dependents = [{ id: 'everywhere', environments: ['*'] }, { id: 'prod-rule', environments: ['production'] }];
    expect(growthBookReach(change('flag.disable', ['dev']), { exists: true, dependents })).toEqual({
      environments: ['dev'], environment: 'dev', flags: [{ flagKey: 'f', environments: ['dev'] }, { flagKey: 'everywhere', environments: ['dev'] }],
    });
    expect(growthBookReach(change('flag.update', ['*']), { exists: true, dependents })?.flags).toEqual([
      { flagKey: 'f', environments: ['*'] }, { flagKey: 'everywhere', environments: ['*'] }, { flagKey: 'prod-rule', environments: ['production'] },
    ]);
    // A change that alters no environment (tags, a description) reaches none of them.
    expect(growthBookReach(change('flag.update', []), { exists: true, dependents })).toBeUndefined();
  });
});
