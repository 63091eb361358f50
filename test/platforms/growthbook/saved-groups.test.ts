/**
 * Which saved groups a GrowthBook change's state read takes: those rules name in any of their forms,
 * and the groups those groups' conditions name in turn, each read once.
 */
import { describe, expect, it } from 'vitest';
import { MAX_SAVED_GROUPS, readSavedGroups, savedGroupIds } from '../../../src/platforms/growthbook/saved-groups.js';

const tooMany = (n: number) => new Error(`too many: ${n}`);
const group = (id: string, extra: Record<string, unknown> = {}) => ({ savedGroup: { id, type: 'list', attributeKey: 'id', values: [], dateUpdated: 'd', ...extra } });

describe('saved groups', () => {
  it('finds groups in savedGroups, the deprecated savedGroupTargeting, and $inGroup / $notInGroup in a condition', () => {
    const rules = [
      { savedGroups: [{ match: 'all', ids: ['a', 'b'] }] },
      { savedGroupTargeting: [{ matchType: 'none', savedGroups: ['c'] }] },
      { condition: '{"$or":[{"id":{"$inGroup":"d"}},{"id":{"$notInGroup":"e"}}]}' },
      { condition: 'not json, with Group in it' },
    ];
    expect(savedGroupIds(rules).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it("reads each once, with the groups a condition group names, and refuses more than it reads", async () => {
    const asked: string[] = [];
    const known: Record<string, ReturnType<typeof group>> = {
      '/api/v1/saved-groups/outer': group('outer', { type: 'condition', condition: '{"id":{"$inGroup":"inner"}}', values: null }),
      '/api/v1/saved-groups/inner': group('inner', { values: ['u1'] }),
    };
    const get = async (path: string) => (asked.push(path), known[path]);
    const groups = await readSavedGroups(get, [{ savedGroups: [{ match: 'any', ids: ['outer', 'inner'] }] }], tooMany);
    expect(groups).toEqual({ inner: expect.objectContaining({ values: ['u1'] }), outer: expect.objectContaining({ type: 'condition' }) });
    expect(asked).toEqual(['/api/v1/saved-groups/outer', '/api/v1/saved-groups/inner']);
    const many = [{ savedGroups: [{ match: 'any', ids: Array.from({ length: MAX_SAVED_GROUPS + 1 }, (_, i) => `g${i}`) }] }];
    await expect(readSavedGroups(async () => undefined, many, tooMany)).rejects.toThrow('too many');
  });
});
