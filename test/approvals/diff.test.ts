import { describe, expect, it } from 'vitest';
import { affectedObject, diffStates } from '../../src/approvals/diff.js';

const s1 = { id: 's1', name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default' }, constraints: [], segments: [] };
const s2 = { id: 's2', name: 'default', parameters: {}, constraints: [], segments: [] };
/** An Unleash flag as read for a change in production (readState keeps that environment only). */
const unleashFlag = { exists: true, project: 'default', name: 'payments.checkout', type: 'release', archived: false, stale: false, environments: { production: { enabled: false, strategies: [s1, s2] } } };
const flagdFlag = { state: 'DISABLED', variants: { on: true, off: false }, defaultVariant: 'off' };
const unleash = (action: string, newState: unknown, environment = 'production') => ({ platform: 'unleash', action, environment, previousState: unleashFlag, newState });

describe('affectedObject', () => {
  it.each([
    {
      name: 'a strategy update: that strategy against the new one',
      change: unleash('strategy.update', { ...s1, parameters: { rollout: '100', stickiness: 'default' }, rollout: 100 }),
      want: {
        kind: 'strategy',
        pointer: '/environments/production/strategies/0',
        diff: [
          { path: '/parameters/rollout', before: '10', after: '100' },
          { path: '/rollout', before: undefined, after: 100 },
        ],
      },
    },
    {
      name: 'a strategy deletion: the strategy, then nothing',
      change: unleash('strategy.delete', { id: 's2', deleted: true }),
      want: { kind: 'strategy', pointer: '/environments/production/strategies/1', before: s2, after: null, diff: [{ path: '/', before: s2, after: null }] },
    },
    {
      name: 'a strategy creation: nothing, then the strategy',
      change: unleash('strategy.create', { name: 'default', parameters: {}, constraints: [], segments: [] }),
      want: { kind: 'strategy', pointer: '/environments/production/strategies/-', before: null },
    },
    {
      name: 'a strategy JSON Patch: each operation on the strategy',
      change: unleash('strategy.update', { id: 's1', patch: [{ op: 'replace', path: '/parameters/rollout', value: '50' }, { op: 'remove', path: '/parameters/stickiness' }] }),
      want: {
        kind: 'strategy',
        diff: [
          { path: '/parameters/rollout', before: '10', after: '50' },
          { path: '/parameters/stickiness', before: 'default', after: null },
        ],
      },
    },
    {
      name: 'an enable in one environment: the fields it sets in that environment',
      change: unleash('flag.enable', { enabled: true }),
      want: { kind: 'environment', pointer: '/environments/production', before: { enabled: false }, after: { enabled: true }, diff: [{ path: '/enabled', before: false, after: true }] },
    },
    {
      name: 'an archive of the whole flag: the flag field it sets',
      change: unleash('flag.archive', { archived: true }, '*'),
      want: { kind: 'flag', pointer: '', before: { archived: false }, diff: [{ path: '/archived', before: false, after: true }] },
    },
    {
      name: 'an Unleash flag update: the flag without its environments',
      change: unleash('flag.update', { name: 'payments.checkout', type: 'kill-switch' }, '*'),
      want: { kind: 'flag', diff: [{ path: '/archived', before: false, after: undefined }, { path: '/stale', before: false, after: undefined }, { path: '/type', before: 'release', after: 'kill-switch' }] },
    },
    {
      name: 'an Unleash flag creation: nothing, then the flag',
      change: { platform: 'unleash', action: 'flag.create', environment: '*', previousState: { exists: false }, newState: { name: 'payments.new' } },
      want: { kind: 'flag', before: null, diff: [{ path: '/', before: null, after: { name: 'payments.new' } }] },
    },
    {
      name: 'a flagd enable: the state field only',
      change: { platform: 'flagd', action: 'flag.enable', environment: 'production', previousState: flagdFlag, newState: { state: 'ENABLED' } },
      want: { kind: 'flag', before: { state: 'DISABLED' }, diff: [{ path: '/state', before: 'DISABLED', after: 'ENABLED' }] },
    },
    {
      name: 'a flagd update: the whole definition, removed keys included',
      change: { platform: 'flagd', action: 'flag.update', environment: 'production', previousState: flagdFlag, newState: { state: 'ENABLED', variants: { on: true }, defaultVariant: 'on' } },
      want: {
        kind: 'flag',
        diff: [
          { path: '/defaultVariant', before: 'off', after: 'on' },
          { path: '/state', before: 'DISABLED', after: 'ENABLED' },
          { path: '/variants/off', before: false, after: undefined },
        ],
      },
    },
  ])('shows $name', ({ change, want }) => {
    expect(affectedObject(change)).toMatchObject(want);
  });

  it("shows an Unleash strategy update's members it does not send as kept, as Unleash keeps them", () => {
    const withSegment = { ...s1, title: 'vip', disabled: false, sortOrder: 0, segments: [4] };
    const sent = { id: 's1', name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default' }, constraints: [] };
    const change = { ...unleash('strategy.update', sent), previousState: { ...unleashFlag, environments: { production: { enabled: true, strategies: [withSegment] } } } };
    expect(affectedObject(change).diff).toEqual([{ path: '/parameters/rollout', before: '10', after: '100' }]);
    // A list sent is what Unleash writes.
    expect(affectedObject({ ...change, newState: { ...sent, segments: [] } }).diff).toEqual([{ path: '/parameters/rollout', before: '10', after: '100' }, { path: '/segments/0', before: 4, after: undefined }]);
  });

  it('never diffs the flag against a strategy: no path of a strategy change leaves the strategy', () => {
    const { diff } = affectedObject(unleash('strategy.update', { ...s2, name: 'flexibleRollout' }));
    expect(diff).toEqual([{ path: '/name', before: 'default', after: 'flexibleRollout' }]);
  });
});

describe('diffStates', () => {
  it('escapes ~ and / in keys (RFC 6901)', () => {
    expect(diffStates({ 'a/b': 1, 'c~d': 1 }, { 'a/b': 2, 'c~d': 2 }).map((d) => d.path)).toEqual(['/a~1b', '/c~0d']);
  });

  it('shows a null added to a list or an object, which can switch a flag on for callers without the attribute', () => {
    const rule = (list: unknown[]) => ({ targeting: { if: [{ in: [{ var: 'tier' }, list] }, 'on', 'off'] } });
    expect(diffStates(rule(['internal']), rule(['internal', null]))).toEqual([{ path: '/targeting/if/0/in/1/1', before: undefined, after: null }]);
    expect(diffStates({ a: 1 }, { a: 1, b: null })).toEqual([{ path: '/b', before: undefined, after: null }]);
    expect(diffStates({ a: 1, b: null }, { a: 1 })).toEqual([{ path: '/b', before: null, after: undefined }]);
    expect(diffStates({ a: null }, { a: null })).toEqual([]);
  });
});
