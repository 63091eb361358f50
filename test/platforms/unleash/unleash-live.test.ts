import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FlagChange, PlatformAdapter } from '../../../src/platforms/index.js';
import { createUnleashAdapter, type UnleashFlagState } from '../../../src/platforms/unleash/index.js';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { freePort, startPostgres, type PgCluster } from '../../support/postgres.js';
import { startUnleash, type UnleashServer } from '../../support/unleash.js';

let pg: PgCluster | undefined;
let unleash: UnleashServer;
let adapter: PlatformAdapter;

beforeAll(async () => {
  pg = await startPostgres();
  unleash = await startUnleash({ databaseUrl: pg.url() });
  adapter = createUnleashAdapter({ baseUrl: unleash.url, token: unleash.adminToken, timeoutMs: 5_000 });
}, 180_000);

afterAll(async () => {
  await unleash?.stop();
  await pg?.stop();
}, 60_000);

const P = '/api/admin/projects/default/features';

/** Calls Unleash directly, as an operator would, bypassing flaggate. */
async function admin(method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await fetch(unleash.url + path, {
    method,
    headers: { authorization: unleash.adminToken, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : undefined;
}

/** The change the adapter itself makes of a request, as the pipeline would see it. */
function changeFor(method: string, path: string, body?: unknown): FlagChange {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const req: RawRequest = {
    method,
    path,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: bytes,
    bodySha256: createHash('sha256').update(bytes).digest('hex'),
  };
  const c = adapter.classify(req);
  if (c.kind !== 'write') throw new TypeError(`not a write: ${method} ${path}`);
  return c.change;
}

const read = async (change: FlagChange): Promise<UnleashFlagState> => (await adapter.readState(change)) as UnleashFlagState;

async function createFlag(name: string): Promise<void> {
  await admin('POST', P, { name, type: 'release' });
}

describe('readState', () => {
  it('reports { exists: false } for a flag that does not exist', async () => {
    expect(await read(changeFor('POST', P, { name: 'never-created' }))).toEqual({ exists: false });
    expect(await read(changeFor('POST', `${P}/never-created/environments/production/on`))).toEqual({ exists: false });
  });

  it('reads a flag created directly on Unleash, every environment, for a feature-level change', async () => {
    await createFlag('fresh.flag');
    expect(await read(changeFor('PUT', `${P}/fresh.flag`, { description: 'x' }))).toEqual({
      exists: true,
      project: 'default',
      name: 'fresh.flag',
      type: 'release',
      archived: false,
      stale: false,
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      environments: {
        development: { enabled: false, strategies: [] },
        production: { enabled: false, strategies: [] },
      },
    });
  });

  it('reflects enable and disable made directly on Unleash, for that environment only', async () => {
    await createFlag('toggled');
    const enable = changeFor('POST', `${P}/toggled/environments/production/on`);
    await admin('POST', `${P}/toggled/environments/production/on`);
    expect((await read(enable)).environments).toEqual({ production: { enabled: true, strategies: expect.any(Array), variants: [] } });
    await admin('POST', `${P}/toggled/environments/production/off`);
    expect((await read(enable)).environments?.production?.enabled).toBe(false);
  });

  it('reads which of a tag change\'s own tag types Unleash has, and no others: another type coming does not alter it', async () => {
    await createFlag('tagged');
    const update = changeFor('PUT', '/api/admin/features/tagged/tags', { addedTags: [{ type: 'simple', value: 'aa' }, { type: 'later', value: 'bb' }], removedTags: [] });
    const before = await read(update);
    expect(before).toEqual({ exists: true, name: 'tagged', tags: [], tagTypes: ['simple'], catalogued: [] });
    await admin('POST', '/api/admin/tag-types', { name: 'unrelated' });
    expect(await read(update)).toEqual(before);
    await admin('POST', '/api/admin/tag-types', { name: 'later' });
    expect((await read(update)).tagTypes).toEqual(['later', 'simple']);
  });

  it("reads which of a change's added tags the instance-wide tag catalogue holds: Unleash creates the others there", async () => {
    await createFlag('catalogued');
    await admin('POST', '/api/admin/tags', { type: 'simple', value: 'known' });
    const add = changeFor('POST', '/api/admin/features/catalogued/tags', { type: 'simple', value: 'fresh' });
    const update = changeFor('PUT', '/api/admin/features/catalogued/tags', { addedTags: [{ type: 'simple', value: 'fresh' }, { type: 'simple', value: 'known' }], removedTags: [] });
    expect((await read(add)).catalogued).toEqual([]);
    expect((await read(update)).catalogued).toEqual([{ type: 'simple', value: 'known' }]);
    const tagsOfSimple = async () => ((await admin('GET', '/api/admin/tags/simple')) as { tags: Array<{ value: string }> }).tags.map((t) => t.value);
    expect(await tagsOfSimple()).not.toContain('fresh');
    // Tagging the flag puts the tag into the catalogue, where the next read finds it.
    await admin('POST', '/api/admin/features/catalogued/tags', { type: 'simple', value: 'fresh' });
    expect(await tagsOfSimple()).toContain('fresh');
    expect((await read(add)).catalogued).toEqual([{ type: 'simple', value: 'fresh' }]);
  });

  it("reads where a strategy created without a sort order goes: after the environment's last, or first", async () => {
    await createFlag('placed');
    const strategies = `${P}/placed/environments/development/strategies`;
    const create = changeFor('POST', strategies, { name: 'default', parameters: {} });
    expect((await read(create)).environments?.development?.nextSortOrder).toBe(0);
    await admin('POST', strategies, { name: 'default', parameters: {}, sortOrder: 3 });
    expect((await read(create)).environments?.development?.nextSortOrder).toBe(4);
    // A create that names its place is stored there: nothing to read.
    expect((await read(changeFor('POST', strategies, { name: 'default', parameters: {}, sortOrder: 1 }))).environments?.development).not.toHaveProperty('nextSortOrder');
  });

  it('reflects strategy create, update and delete made directly on Unleash', async () => {
    await createFlag('rolled');
    const strategies = `${P}/rolled/environments/production/strategies`;
    const created = (await admin('POST', strategies, {
      name: 'flexibleRollout',
      parameters: { rollout: '25', stickiness: 'default', groupId: 'rolled' },
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }],
    })) as { id: string };
    const change = changeFor('PUT', `${strategies}/${created.id}`, { name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default' } });
    expect(change.newState).toMatchObject({ id: created.id, rollout: 50 });

    expect((await read(change)).environments?.production?.strategies).toEqual([
      {
        id: created.id,
        name: 'flexibleRollout',
        parameters: { rollout: '25', stickiness: 'default', groupId: 'rolled' },
        constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }],
        segments: [],
        disabled: false,
        title: null,
        sortOrder: 0,
        variants: [],
      },
    ]);
    await admin('PUT', `${strategies}/${created.id}`, {
      name: 'flexibleRollout',
      parameters: { rollout: '50', stickiness: 'default', groupId: 'rolled' },
    });
    const [updated] = (await read(change)).environments?.production?.strategies ?? [];
    expect(updated).toMatchObject({ id: created.id, parameters: { rollout: '50' }, constraints: [] });
    await admin('DELETE', `${strategies}/${created.id}`);
    expect((await read(change)).environments?.production?.strategies).toEqual([]);
  });

  it("records, for each change of what an environment serves, the flag's parents, its creation time, and (but for a switch-off) the environment's variants", async () => {
    await createFlag('gate.parent');
    await createFlag('gate.child');
    await admin('POST', `${P}/gate.child/dependencies`, { feature: 'gate.parent', enabled: true });
    // Environment variants are deprecated on their own route for new flags; the batch route still sets them.
    await admin('PUT', `${P}/gate.child/variants-batch`, { variants: [{ name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default' }], environments: ['production'] });
    const created = (await admin('POST', `${P}/gate.child/environments/production/strategies`, { name: 'default', constraints: [], parameters: {} })) as { id: string };
    const env = `${P}/gate.child/environments/production`;
    const serving = [
      changeFor('POST', `${env}/on`),
      changeFor('POST', `${env}/strategies`, { name: 'default', constraints: [], parameters: {} }),
      changeFor('PUT', `${env}/strategies/${created.id}`, { name: 'default', constraints: [], parameters: {} }),
      changeFor('DELETE', `${env}/strategies/${created.id}`),
      changeFor('POST', `${env}/strategies/set-sort-order`, [{ id: created.id, sortOrder: 0 }]),
      changeFor('PUT', `${env}/variants`, []),
    ];
    for (const c of [...serving, changeFor('POST', `${env}/off`)]) {
      const state = await read(c);
      expect(state, `${c.action} ${c.request.path}`).toMatchObject({ dependencies: [{ feature: 'gate.parent', enabled: true }], createdAt: expect.stringMatching(/^\d{4}-/) });
      expect(state.environments?.production?.variants, c.action).toEqual(c.action === 'flag.disable' ? undefined : [expect.objectContaining({ name: 'blue' })]);
    }
    // A change that serves nothing differently reads no parents.
    expect(await read(changeFor('PATCH', `${P}/gate.child`, [{ op: 'replace', path: '/description', value: 'x' }]))).not.toHaveProperty('dependencies');
  });

  it('reads an archived flag for flag.delete and flag.revive, and not as a live flag', async () => {
    await createFlag('retired');
    await createFlag('retired_not');
    await admin('POST', `${P}/retired/environments/development/on`);
    await admin('DELETE', `${P}/retired`);

    const archived = {
      exists: true, project: 'default', name: 'retired', type: 'release', archived: true, stale: false, createdAt: expect.any(String),
      environments: { development: { enabled: true }, production: { enabled: false } },
    };
    expect(await read(changeFor('DELETE', '/api/admin/archive/retired'))).toEqual(archived);
    expect(await read(changeFor('POST', '/api/admin/archive/revive/retired'))).toEqual(archived);
    expect(await read(changeFor('DELETE', `${P}/retired`))).toEqual({ exists: false });
    // A live flag whose name contains the archived one's is not in the archive.
    expect(await read(changeFor('DELETE', '/api/admin/archive/retired_not'))).toEqual({ exists: false });

    await admin('POST', '/api/admin/archive/revive/retired');
    expect(await read(changeFor('DELETE', '/api/admin/archive/retired'))).toEqual({ exists: false });
  });

  it('rejects with ADAPT_STATE_UNAVAILABLE when nothing listens on the port', async () => {
    const closed = createUnleashAdapter({ baseUrl: `http://127.0.0.1:${await freePort()}`, token: 'x', timeoutMs: 2_000 });
    const change = changeFor('POST', `${P}/fresh.flag/environments/production/on`);
    const err: unknown = await closed.readState(change).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
    expect((err as Error).cause).toBeDefined();
  });

  it('rejects with ADAPT_STATE_UNAVAILABLE when Unleash refuses the token', async () => {
    const wrong = createUnleashAdapter({ baseUrl: unleash.url, token: '*:*.not-a-token', timeoutMs: 5_000 });
    await expect(wrong.readState(changeFor('PUT', `${P}/fresh.flag`, {}))).rejects.toMatchObject({
      code: 'ADAPT_STATE_UNAVAILABLE',
      details: { status: 401 },
    });
  });

  it('rejects with ADAPT_STATE_UNAVAILABLE when the base URL names a path Unleash does not have', async () => {
    const lost = createUnleashAdapter({ baseUrl: `${unleash.url}/elsewhere`, token: unleash.adminToken, timeoutMs: 5_000 });
    await expect(lost.readState(changeFor('PUT', `${P}/fresh.flag`, {}))).rejects.toMatchObject({
      code: 'ADAPT_STATE_UNAVAILABLE',
      details: { status: 404 },
    });
  });
});
