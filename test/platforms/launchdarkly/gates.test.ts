/**
 * Which prerequisite flags and segments a LaunchDarkly change's state read takes: those of the
 * environments read, and those the change names in any of the three patch forms.
 */
import { describe, expect, it } from 'vitest';
import { MAX_GATES, readGates } from '../../../src/platforms/launchdarkly/gates.js';

const tooMany = (n: number) => new Error(`too many: ${n}`);

/** Reads answered from `known` (path → body), undefined for any other; the paths asked, in order. */
function reader(known: Record<string, Record<string, unknown>> = {}) {
  const asked: string[] = [];
  return { asked, get: async (path: string) => (asked.push(path), known[path]) };
}

const config = (over: { rules?: unknown[]; prerequisites?: unknown[] } = {}) => ({ rules: [], prerequisites: [], ...over });

describe('readGates', () => {
  it('takes the prerequisites the environment already has from the project listing, and reads its segments', async () => {
    const { asked, get } = reader({ '/api/v2/segments/default/production/vip': { name: 'VIP', version: 3, included: ['u1', 'u2'], rules: [] } });
    const listed = new Map([['production', [{ key: 'ui-banner', variations: [{ _id: 'a', value: true }], environments: { production: { on: true, offVariation: 1, fallthrough: { variation: 0 } } } }]]]);
    const gates = await readGates(get, 'default', { production: config({ prerequisites: [{ key: 'ui-banner', variation: 0 }], rules: [{ clauses: [{ op: 'segmentMatch', values: ['vip'] }] }] }) }, listed, {}, tooMany);
    expect(asked).toEqual(['/api/v2/segments/default/production/vip']);
    expect(gates).toMatchObject({ prerequisiteFlags: { production: { 'ui-banner': { on: true, offVariation: 1 } } }, segments: { production: { vip: { name: 'VIP', version: 3, included: 2 } } } });
  });

  it('reads those a change names, as a semantic patch, a JSON Patch or a merge patch names them; one LaunchDarkly lacks is null', async () => {
    const changes = [
      { instructions: [{ kind: 'addPrerequisite', key: 'gate', variationId: 'v' }, { kind: 'addRule', clauses: [{ op: 'segmentMatch', values: ['beta'] }] }] },
      { patch: [{ op: 'add', path: '/environments/production/prerequisites/-', value: { key: 'gate', variation: 0 } }, { op: 'add', path: '/environments/production/rules/-', value: { clauses: [{ op: 'segmentMatch', values: ['beta'] }] } }] },
      { merge: { environments: { production: { prerequisites: [{ key: 'gate', variation: 0 }], rules: [{ clauses: [{ op: 'segmentMatch', values: ['beta'] }] }] } } } },
    ];
    for (const newState of changes) {
      const { asked, get } = reader();
      expect(await readGates(get, 'default', { production: config() }, new Map(), newState, tooMany), JSON.stringify(newState)).toEqual({ prerequisiteFlags: { production: { gate: null } }, segments: { production: { beta: null } } });
      expect(asked).toEqual(['/api/v2/segments/default/production/beta']);
    }
  });

  it('reads nothing for a flag without either, and refuses a change naming more segments than it reads', async () => {
    const { asked, get } = reader();
    expect(await readGates(get, 'default', { production: config(), test: config() }, new Map(), { instructions: [{ kind: 'turnFlagOn' }] }, tooMany)).toEqual({});
    expect(asked).toEqual([]);
    const many = [{ clauses: [{ op: 'segmentMatch', values: Array.from({ length: MAX_GATES + 1 }, (_, i) => `segment-${i}`) }] }];
    await expect(readGates(get, 'default', { production: config({ rules: many }) }, new Map(), {}, tooMany)).rejects.toThrow(`too many: ${MAX_GATES + 1}`);
    expect(asked).toEqual([]);
  });
});
