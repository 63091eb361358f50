/**
 * The features a GrowthBook change reaches through prerequisites, read from every page of the
 * double's feature list (validated against GrowthBook's published description).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyGrowthBook, createGrowthBookAdapter } from '../../../src/platforms/growthbook/index.js';
import type { FlagChange, PlatformAdapter } from '../../../src/platforms/index.js';
import { startGrowthBookDouble, type GrowthBookDouble } from '../../support/growthbook/double.js';

const SECRET = 'secret_reader0123456789';
let double: GrowthBookDouble;
let adapter: PlatformAdapter;

function change(path: string, body: unknown): FlagChange {
  const bytes = Buffer.from(JSON.stringify(body));
  const req: RawRequest = { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = classifyGrowthBook(req);
  if (c.kind !== 'write') throw new Error('not a write');
  return c.change;
}

const create = (body: Record<string, unknown>) =>
  fetch(`${double.url}/api/v1/features`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ owner: 'o', valueType: 'boolean', defaultValue: 'true', ...body }) });

beforeAll(async () => {
  double = await startGrowthBookDouble({ secretKey: SECRET });
  adapter = createGrowthBookAdapter({ baseUrl: double.url, token: SECRET });
  await create({ id: 'base' });
  // Past the first page of 100: a chain base <- middle (production rule) <- top (feature-level).
  for (let i = 0; i < 130; i += 1) await create({ id: `filler-${String(i).padStart(3, '0')}` });
  await create({ id: 'middle', environments: { production: { enabled: true, rules: [{ type: 'force', value: 'false', prerequisites: [{ id: 'base', condition: '{"value": true}' }] }] } } });
  await create({ id: 'top', prerequisites: ['middle'] });
}, 60_000);
afterAll(async () => {
  await double?.stop();
});

describe('GrowthBook dependents', () => {
  it('finds dependents on later pages and through a chain, where the whole chain holds', async () => {
    const off = change('/api/v1/features/base/toggle', { environments: { production: false } });
    const state = (await adapter.readState(off)) as { dependents?: unknown };
    expect(state.dependents).toEqual([{ id: 'middle', environments: ['production'] }, { id: 'top', environments: ['production'] }]);
    expect(adapter.reach!(off, state)?.flags?.map((f) => [f.flagKey, f.environments])).toEqual([['base', ['production']], ['middle', ['production']], ['top', ['production']]]);
  });

  it('reads none for a change that alters no environment, and reaches none where no chain holds', async () => {
    expect(await adapter.readState(change('/api/v1/features/base', { description: 'x' }))).not.toHaveProperty('dependents');
    const dev = change('/api/v1/features/base/toggle', { environments: { dev: false } });
    expect(adapter.reach!(dev, await adapter.readState(dev))).toBeUndefined();
  });
});

describe('GrowthBook prerequisites a feature is served through', () => {
  it("records its own, its rules' in the environments read, and those the change names, each as it serves there", async () => {
    const middle = (await adapter.readState(change('/api/v1/features/middle/toggle', { environments: { production: false } }))) as { prerequisiteFeatures?: Record<string, unknown> };
    expect(middle.prerequisiteFeatures).toEqual({ base: { archived: false, valueType: 'boolean', defaultValue: 'true', version: expect.anything(), environments: { production: expect.objectContaining({ rules: [] }) } } });
    const top = (await adapter.readState(change('/api/v1/features/top/toggle', { environments: { production: false } }))) as { prerequisiteFeatures?: Record<string, unknown> };
    expect(Object.keys(top.prerequisiteFeatures ?? {})).toEqual(['middle']);
    // A rule the change adds names a prerequisite, and one GrowthBook lacks is null.
    const rule = change('/api/v1/features/base', { environments: { production: { rules: [{ type: 'force', value: 'false', prerequisites: [{ id: 'top', condition: '{}' }, { id: 'nowhere', condition: '{}' }] }] } } });
    expect(((await adapter.readState(rule)) as { prerequisiteFeatures?: Record<string, unknown> }).prerequisiteFeatures).toMatchObject({ nowhere: null, top: { environments: { production: expect.anything() } } });
    // A change in dev reads no rule of production's.
    expect(await adapter.readState(change('/api/v1/features/middle/toggle', { environments: { dev: false } }))).not.toHaveProperty('prerequisiteFeatures');
  });
});

describe('GrowthBook saved groups a feature is served through', () => {
  it("records those its rules in the environments read name (savedGroups, $inGroup in a condition), as GrowthBook holds them; one it lacks is null", async () => {
    double.putSavedGroup('grp_vip', 'id', ['user-1']);
    await create({
      id: 'grouped',
      environments: { production: { enabled: true, rules: [{ type: 'force', value: 'false', savedGroups: [{ match: 'any', ids: ['grp_vip'] }], condition: '{"id":{"$inGroup":"grp_staff"}}' }] } },
    });
    const state = (await adapter.readState(change('/api/v1/features/grouped/toggle', { environments: { production: false } }))) as { savedGroups?: Record<string, unknown> };
    expect(state.savedGroups).toEqual({ grp_staff: null, grp_vip: expect.objectContaining({ type: 'list', attributeKey: 'id', values: ['user-1'] }) });
    // A change in dev, where no rule names a group, reads none; a rule the change adds is read.
    expect(await adapter.readState(change('/api/v1/features/grouped/toggle', { environments: { dev: false } }))).not.toHaveProperty('savedGroups');
    const adding = change('/api/v1/features/grouped', { environments: { dev: { rules: [{ type: 'force', value: 'true', savedGroups: [{ match: 'all', ids: ['grp_vip'] }] }] } } });
    expect(((await adapter.readState(adding)) as { savedGroups?: Record<string, unknown> }).savedGroups).toMatchObject({ grp_vip: { values: ['user-1'] } });
  });
});

