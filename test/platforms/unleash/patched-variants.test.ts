/**
 * An environment's variants after a JSON Patch, as Unleash 8.2 stores them: the patch applied with
 * the fast-json-patch Unleash uses, then the weights shared out and the list sorted by name.
 */
import { describe, expect, it } from 'vitest';
import { variantsAfterPatch } from '../../../src/platforms/unleash/patched-variants.js';

const v = (name: string, weight: number, weightType = 'variable') => ({ name, weight, weightType, stickiness: 'default' });

describe('variantsAfterPatch', () => {
  it("stores a variant added as Unleash's UI adds one: the weights shared out again, the list sorted", () => {
    const ui = [{ op: 'replace', path: '/0/weight', value: 500 }, { op: 'add', path: '/1', value: { name: 'green', weightType: 'variable', weight: 500, overrides: [], stickiness: 'default' } }];
    expect(variantsAfterPatch([v('blue', 1000)], ui)).toEqual([v('blue', 500), { name: 'green', weightType: 'variable', weight: 500, overrides: [], stickiness: 'default' }]);
    // Three variants: Unleash gives the remainder to the first in the patched list, then sorts.
    expect(variantsAfterPatch([v('c', 500), v('a', 500)], [{ op: 'add', path: '/-', value: v('b', 333) }])?.map((x) => [(x as { name: string }).name, (x as { weight: number }).weight])).toEqual([['a', 333], ['b', 333], ['c', 334]]);
  });

  it('stores a removal, a rename (sorted again) and a fixed weight', () => {
    expect(variantsAfterPatch([v('blue', 500), v('green', 500)], [{ op: 'remove', path: '/0' }])).toEqual([v('green', 1000)]);
    expect(variantsAfterPatch([v('blue', 500), v('green', 500)], [{ op: 'replace', path: '/0/name', value: 'zebra' }])?.map((x) => (x as { name: string }).name)).toEqual(['green', 'zebra']);
    expect(variantsAfterPatch([v('blue', 500), v('green', 500)], [{ op: 'replace', path: '/0', value: v('blue', 200, 'fix') }])).toEqual([v('blue', 200, 'fix'), v('green', 800)]);
  });

  it('gives null for a patch that does not apply, and for a weight left as text (Unleash would sum it as text)', () => {
    // fast-json-patch, unvalidated as Unleash calls it, removes nothing at an index past the end.
    expect(variantsAfterPatch([v('blue', 1000)], [{ op: 'remove', path: '/3' }])).toEqual([v('blue', 1000)]);
    expect(variantsAfterPatch([v('blue', 1000)], [{ op: 'test', path: '/0/name', value: 'green' }])).toBeNull();
    expect(variantsAfterPatch([v('treatment', 1000)], [{ op: 'add', path: '/-', value: { ...v('control', 0, 'fix'), weight: '0' } }])).toBeNull();
  });
});
