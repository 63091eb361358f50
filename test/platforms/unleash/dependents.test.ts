import { describe, expect, it } from 'vitest';
import type { FlagChange } from '../../../src/platforms/index.js';
import { dependentsReach } from '../../../src/platforms/unleash/dependents.js';

const request = { method: 'POST', path: '/x', bodySha256: '0'.repeat(64) };
const single = (action: string, environments: string[]): FlagChange => ({ platform: 'unleash', action, project: 'default', flagKey: 'dep.parent', environments, environment: environments[0], request });
const parent = { exists: true, project: 'default', name: 'dep.parent', environments: {}, children: ['payments.child', 'search.child'] };

describe('dependentsReach (Unleash feature dependencies)', () => {
  it("lists a parent's children with the parent's environments, the parent first", () => {
    expect(dependentsReach(single('flag.disable', ['production']), parent)).toEqual({
      flags: [
        { flagKey: 'dep.parent', project: 'default', environments: ['production'] },
        { flagKey: 'payments.child', project: 'default', environments: ['production'] },
        { flagKey: 'search.child', project: 'default', environments: ['production'] },
      ],
    });
    expect(dependentsReach(single('flag.archive', ['*']), parent)?.flags?.map((f) => f.environments)).toEqual([['*'], ['*'], ['*']]);
  });

  it('widens nothing for a change that alters no environment, or a flag without children', () => {
    expect(dependentsReach(single('link.create', []), parent)).toBeUndefined();
    expect(dependentsReach(single('flag.disable', ['production']), { ...parent, children: undefined })).toBeUndefined();
    expect(dependentsReach(single('flag.disable', ['production']), { exists: false })).toBeUndefined();
  });

  it("adds each batch member's children once, with that member's environments", () => {
    const batch: FlagChange = {
      ...single('flag.enable', ['development']),
      flagKey: 'a,b',
      flags: [
        { flagKey: 'a', project: 'default', environments: ['development'] },
        { flagKey: 'b', project: 'default', environments: ['development'] },
      ],
    };
    const states = { flags: { a: { exists: true, children: ['c', 'b'] }, b: { exists: true, children: ['c'] } } };
    expect(dependentsReach(batch, states)?.flags?.map((f) => f.flagKey)).toEqual(['a', 'b', 'c']);
  });
});
