import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyFlagsmith, createFlagsmithAdapter, settledFlagsmith } from '../../../src/platforms/flagsmith/index.js';
import type { FlagChange, PlatformAdapter } from '../../../src/platforms/index.js';
import { DEV_KEY, startFlagsmithDouble, type FlagsmithDouble } from '../../support/flagsmith/double.js';

const KEY = 'Api-Key reader';
let double: FlagsmithDouble;
let adapter: PlatformAdapter;
let feature: number;

function change(method: string, path: string, body?: unknown): FlagChange {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const req: RawRequest = { method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = classifyFlagsmith(req);
  if (c.kind !== 'write') throw new Error(`not a write: ${method} ${path}`);
  return c.change;
}

beforeAll(async () => {
  double = await startFlagsmithDouble({ mode: 'model', credentials: [KEY] });
  adapter = createFlagsmithAdapter({ baseUrl: double.url, authorization: KEY, timeoutMs: 5000 });
  const res = await fetch(`${double.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'payments.checkout' }) });
  feature = ((await res.json()) as { id: number }).id;
}, 60_000);
afterAll(async () => {
  await double?.stop();
});

describe('Flagsmith previous state', () => {
  it('names the feature a change addresses by id, in every environment-level route', async () => {
    const state = (id: number) => `/api/v1/environments/${DEV_KEY}/featurestates/${id}/`;
    const list = (await (await fetch(`${double.url}/api/v1/environments/${DEV_KEY}/featurestates/?feature=${feature}`, { headers: { authorization: KEY } })).json()) as { results: Array<{ id: number }> };
    const cases = [
      change('PATCH', `/api/v1/projects/1/features/${feature}/`, { description: 'x' }),
      change('PATCH', state(list.results[0]!.id), { enabled: true }),
      change('PATCH', `/api/__future__/environments/${DEV_KEY}/features/${feature}/`, { environment_default: { enabled: true, value: { type: 'string', value: 'a' } } }),
      change('POST', `/api/v1/environments/${DEV_KEY}/identities/1/featurestates/`, { feature, enabled: true }),
      change('PUT', `/api/v1/projects/1/features/${feature}/mv-options/1/`, { feature, type: 'unicode', string_value: 'b' }),
    ];
    for (const c of cases) expect(await adapter.readState(c), `${c.request.method} ${c.request.path}`).toMatchObject({ name: 'payments.checkout' });
    expect(await adapter.readState(cases[1]!)).toMatchObject({ exists: true, environment: { name: 'Development', api_key: DEV_KEY }, target: { enabled: false } });
  });

  it('a feature to create is looked up by its exact name', async () => {
    expect(await adapter.readState(change('POST', '/api/v1/projects/1/features/', { name: 'payments.checkout' }))).toMatchObject({ exists: true, name: 'payments.checkout' });
    expect(await adapter.readState(change('POST', '/api/v1/projects/1/features/', { name: 'payments' }))).toEqual({ exists: false, name: 'payments', preventFlagDefaults: false });
  });

  it("records whether the project prevents flag defaults, which a real Flagsmith applies instead of the create's default_enabled and initial_value", async () => {
    const preventing = await startFlagsmithDouble({ mode: 'model', credentials: [KEY], preventFlagDefaults: true });
    try {
      const reader = createFlagsmithAdapter({ baseUrl: preventing.url, authorization: KEY, timeoutMs: 5000 });
      const create = change('POST', '/api/v1/projects/1/features/', { name: 'shop.banner', default_enabled: true, initial_value: 'on' });
      expect(await reader.readState(create)).toEqual({ exists: false, name: 'shop.banner', preventFlagDefaults: true });
      // What the setting does, as a real Flagsmith 2.265.0 did it: every environment off, no value.
      await fetch(`${preventing.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shop.banner', default_enabled: true, initial_value: 'on' }) });
      expect(preventing.featureState(DEV_KEY, 'shop.banner')).toEqual({ enabled: false, value: null });
    } finally {
      await preventing.stop();
    }
    // A project the state read cannot ask is not guessed at.
    const elsewhere = createFlagsmithAdapter({ baseUrl: `${double.url}/not-flagsmith`, authorization: KEY, timeoutMs: 5000 });
    await expect(elsewhere.readState(change('POST', '/api/v1/projects/1/features/', { name: 'x' }))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
  });

  it('records the versions a versioned environment has scheduled for the feature, which replace this change when they go live', async () => {
    const versioned = await startFlagsmithDouble({ mode: 'model', credentials: [KEY] });
    try {
      const reader = createFlagsmithAdapter({ baseUrl: versioned.url, authorization: KEY, timeoutMs: 5000 });
      const created = await fetch(`${versioned.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shop.banner' }) });
      const id = ((await created.json()) as { id: number }).id;
      const future = change('PATCH', `/api/__future__/environments/${DEV_KEY}/features/${id}/`, { environment_default: { enabled: true, value: { type: 'string', value: 'a' } } });
      // An environment without versions has none to read.
      expect(await reader.readState(future)).not.toHaveProperty('scheduled');
      const states = (await (await fetch(`${versioned.url}/api/v1/environments/${DEV_KEY}/featurestates/?feature=${id}`, { headers: { authorization: KEY } })).json()) as { results: Array<{ id: number }> };
      versioned.addVersion(DEV_KEY, 'shop.banner', '2099-01-02T00:00:00.000000Z');
      versioned.addVersion(DEV_KEY, 'shop.banner', null); // a draft: nothing serves it until it is published
      versioned.addVersion(DEV_KEY, 'shop.banner', '2099-01-01T00:00:00.000000Z');
      const routes = [
        future,
        change('PATCH', `/api/v1/projects/1/features/${id}/`, { description: 'x' }),
        change('PATCH', `/api/v1/environments/${DEV_KEY}/featurestates/${states.results[0]!.id}/`, { enabled: true }),
      ];
      for (const c of routes.slice(0, 1).concat(routes.slice(2))) {
        const state = (await reader.readState(c)) as { scheduled?: Array<{ live_from: string }> };
        expect(state.scheduled?.map((v) => v.live_from), c.request.path).toEqual(['2099-01-01T00:00:00.000000Z', '2099-01-02T00:00:00.000000Z']);
      }
      // A change that names no environment, and an identity's override (not versioned), read none.
      expect(await reader.readState(routes[1]!)).not.toHaveProperty('scheduled');
      expect(await reader.readState(change('POST', `/api/v1/environments/${DEV_KEY}/identities/1/featurestates/`, { feature: id, enabled: true }))).not.toHaveProperty('scheduled');
    } finally {
      await versioned.stop();
    }
  });

  it('records who may be served the feature (is_server_key_only) and its tags', async () => {
    const state = (await adapter.readState(change('PATCH', `/api/v1/projects/1/features/${feature}/`, { description: 'x' }))) as { feature: Record<string, unknown> };
    expect(state.feature).toMatchObject({ is_server_key_only: false, tags: [] });
  });

  it('records, for a new override without a value, whether the project prevents flag defaults (then it is served none)', async () => {
    const preventing = await startFlagsmithDouble({ mode: 'model', credentials: [KEY], preventFlagDefaults: true });
    try {
      const reader = createFlagsmithAdapter({ baseUrl: preventing.url, authorization: KEY, timeoutMs: 5000 });
      const created = await fetch(`${preventing.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shop.banner' }) });
      const id = ((await created.json()) as { id: number }).id;
      const override = (body: object) => change('POST', `/api/v1/environments/${DEV_KEY}/identities/3/featurestates/`, { feature: id, ...body });
      expect(await reader.readState(override({ enabled: true }))).toMatchObject({ preventFlagDefaults: true });
      expect(await reader.readState(override({ enabled: true, feature_state_value: 'v' }))).not.toHaveProperty('preventFlagDefaults');
      // The identity's overrides are read filtered by the feature: Flagsmith lists them ten a page.
      expect(preventing.received.filter((r) => r.path.includes('/identities/3/featurestates/')).map((r) => r.path)).toEqual([
        `/api/v1/environments/${DEV_KEY}/identities/3/featurestates/?feature=${id}`,
        `/api/v1/environments/${DEV_KEY}/identities/3/featurestates/?feature=${id}`,
      ]);
      // A new segment override without a value the same way.
      const segmentOverride = (body: object) => change('POST', `/api/v1/environments/${DEV_KEY}/features/${id}/create-segment-override/`, { feature_segment: { segment: 1 }, enabled: true, ...body });
      expect(await reader.readState(segmentOverride({}))).toMatchObject({ preventFlagDefaults: true, segment: { id: 1 } });
      expect(await reader.readState(segmentOverride({ feature_state_value: 'v' }))).not.toHaveProperty('preventFlagDefaults');
    } finally {
      await preventing.stop();
    }
  });

  it("records who an existing segment override serves: its priority among the overrides and its segment's rules; and, for a feature segment's delete, the states deleted with it", async () => {
    const created = await fetch(`${double.url}/api/v1/environments/${DEV_KEY}/features/${feature}/create-segment-override/`, {
      method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ feature_segment: { segment: 1 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'teal' } }),
    });
    const override = (await created.json()) as { id: number; feature_segment: { id: number } };
    const audience = { featureSegment: { id: override.feature_segment.id, segment: 1, priority: 0, environment: 1 }, segment: { id: 1, name: 'beta_users', rules: [{ type: 'ALL', rules: [{ conditions: [{ property: 'plan', value: 'beta' }] }] }] } };
    expect(await adapter.readState(change('PATCH', `/api/v1/features/featurestates/${override.id}/`, { environment: 1, feature, enabled: false }))).toMatchObject(audience);
    const deleting = await adapter.readState(change('DELETE', `/api/v1/features/feature-segments/${override.feature_segment.id}/`));
    expect(deleting).toMatchObject({ ...audience, name: 'payments.checkout', overrides: [{ id: override.id, enabled: true, feature_segment: override.feature_segment.id }] });
  });

  it("records what every environment serves of the feature for a change to the feature itself (its update, delete and options act in all of them)", async () => {
    for (const c of [
      change('PATCH', `/api/v1/projects/1/features/${feature}/`, { description: 'x' }),
      change('DELETE', `/api/v1/projects/1/features/${feature}/`),
      change('PUT', `/api/v1/projects/1/features/${feature}/mv-options/1/`, { feature, type: 'unicode', string_value: 'b' }),
    ]) {
      const state = (await adapter.readState(c)) as { served?: Array<{ environment: { name: string }; environment_default: unknown }> };
      expect(state.served?.map((s) => s.environment.name), `${c.request.method} ${c.request.path}`).toEqual(['Development', 'Production']);
      expect(state.served?.[0]?.environment_default).toMatchObject({ enabled: expect.any(Boolean), variants: [] });
    }
    // A change in one environment reads that one only.
    const one = await adapter.readState(change('PATCH', `/api/__future__/environments/${DEV_KEY}/features/${feature}/`, { environment_default: { enabled: true } }));
    expect(one).not.toHaveProperty('served');
  });

  it("records the segment of each override a __future__ change names, with its rules", async () => {
    const c = change('PATCH', `/api/__future__/environments/${DEV_KEY}/features/${feature}/`, {
      segment_overrides: [{ segment: { id: 99 }, enabled: true }, { segment: { id: 2 }, enabled: true, value: { type: 'string', value: 'red' } }],
    });
    expect(await adapter.readState(c)).toMatchObject({
      segments: [{ id: 2, name: 'internal_staff', rules: [{ type: 'ALL' }] }, { id: 99, rules: null }],
    });
  });

  it('finds a segment override among more states than one page of the list holds (identity overrides included, ten a page)', async () => {
    const post = (path: string, body: unknown) => fetch(double.url + path, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const id = ((await (await post('/api/v1/projects/1/features/', { name: 'crowded' })).json()) as { id: number }).id;
    for (let identity = 100; identity < 112; identity += 1) await post(`/api/v1/environments/${DEV_KEY}/identities/${identity}/featurestates/`, { feature: id, enabled: true });
    const override = (await (await post(`/api/v1/environments/${DEV_KEY}/features/${id}/create-segment-override/`, { feature_segment: { segment: 1 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'x' } })).json()) as { id: number; feature_segment: { id: number } };
    for (const body of [{ environment: 1, feature: id, enabled: false }, { environment: 1, feature: id, feature_segment: override.feature_segment.id, enabled: false }]) {
      expect(await adapter.readState(change('PATCH', `/api/v1/features/featurestates/${override.id}/`, body)), JSON.stringify(body)).toMatchObject({ exists: true, name: 'crowded', target: { id: override.id } });
    }
  });

  it("records a segment's rules and conditions in order of id, however Flagsmith lists them, so a held change is not stale for the order alone", async () => {
    const condition = (id: number, value: string) => ({ id, operator: 'EQUAL', property: 'plan', value, description: null });
    const rules = [{ id: 9, type: 'ALL', conditions: [], rules: [{ id: 12, type: 'ANY', conditions: [condition(31, 'b'), condition(30, 'a')] }, { id: 11, type: 'ANY', conditions: [] }] }, { id: 8, type: 'ALL', rules: [], conditions: [] }];
    const listed = await startFlagsmithDouble({ mode: 'model', credentials: [KEY], segments: [{ id: 40, name: 'shuffled', project: 1, feature: null, rules }] });
    try {
      const reader = createFlagsmithAdapter({ baseUrl: listed.url, authorization: KEY, timeoutMs: 5000 });
      const created = await fetch(`${listed.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'shop.banner' }) });
      const id = ((await created.json()) as { id: number }).id;
      const state = (await reader.readState(change('POST', `/api/v1/environments/${DEV_KEY}/features/${id}/create-segment-override/`, { feature_segment: { segment: 40 }, enabled: true, feature_state_value: 'x' }))) as { segment: { rules: Array<{ id: number; rules: Array<{ id: number; conditions: Array<{ id: number }> }> }> } };
      expect(state.segment.rules.map((r) => r.id)).toEqual([8, 9]);
      expect(state.segment.rules[1]!.rules.map((r) => [r.id, r.conditions.map((c) => c.id)])).toEqual([[11, []], [12, [30, 31]]]);
    } finally {
      await listed.stop();
    }
  });

  it('fails closed when the environment or the feature cannot be read', async () => {
    await expect(adapter.readState(change('PATCH', '/api/v1/environments/unknownKey/featurestates/1/', { enabled: true }))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
    await expect(adapter.readState(change('POST', `/api/v1/environments/${DEV_KEY}/identities/1/featurestates/`, { feature: 999, enabled: true }))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
    const elsewhere = createFlagsmithAdapter({ baseUrl: `${double.url}/not-flagsmith`, authorization: KEY, timeoutMs: 5000 });
    await expect(elsewhere.readState(change('PATCH', `/api/v1/projects/1/features/${feature}/`, { description: 'x' }))).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
  });

  it("refuses a body naming another feature than the state the path names (Flagsmith would write the body's)", async () => {
    const res = await fetch(`${double.url}/api/v1/projects/1/features/`, { method: 'POST', headers: { authorization: KEY, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'search.banner' }) });
    const other = ((await res.json()) as { id: number }).id;
    const list = (await (await fetch(`${double.url}/api/v1/environments/${DEV_KEY}/featurestates/?feature=${other}`, { headers: { authorization: KEY } })).json()) as { results: Array<{ id: number }> };
    const path = `/api/v1/environments/${DEV_KEY}/featurestates/${list.results[0]!.id}/`;
    const decide = async (c: FlagChange) => adapter.reach!(c, await adapter.readState(c));
    // The row is search.banner's; a body naming payments.checkout would move it to the critical flag.
    await expect(decide(change('PATCH', path, { feature, enabled: true }))).rejects.toMatchObject({ code: 'ADAPT_TARGET_MISMATCH', status: 409 });
    await expect(decide(change('PATCH', path, { feature: other, enabled: true }))).resolves.toBeUndefined();
    await expect(decide(change('PATCH', path, { enabled: true }))).resolves.toBeUndefined();
  });

  it('refuses a nested feature state the live list does not show: it cannot be told to be the feature the body names', async () => {
    const c = change('PATCH', '/api/v1/features/featurestates/987654/', { environment: 1, feature, enabled: true });
    const state = await adapter.readState(c);
    expect(state).toMatchObject({ exists: false, name: 'payments.checkout', target: null });
    expect(() => adapter.reach!(c, state)).toThrow(expect.objectContaining({ code: 'ADAPT_TARGET_MISMATCH' }));
  });

  it('settles creation and deletion by existence, enabling by `enabled`, the rest by comparison', () => {
    const c = (action: string, previousState?: unknown) => ({ ...change('DELETE', '/api/v1/projects/1/features/3/'), action, previousState });
    expect(settledFlagsmith(c('flag.create'), { exists: true })).toBe('applied');
    expect(settledFlagsmith(c('flag.delete'), { exists: true })).toBe('not_applied');
    expect(settledFlagsmith(c('identity_override.delete'), { exists: false })).toBe('applied');
    expect(settledFlagsmith(c('flag.enable'), { exists: true, target: { enabled: true } })).toBe('applied');
    expect(settledFlagsmith(c('flag.disable'), { exists: true, target: { enabled: true } })).toBe('not_applied');
    expect(settledFlagsmith(c('flag.update', { exists: true, name: 'a' }), { exists: true, name: 'a' })).toBe('not_applied');
    expect(settledFlagsmith(c('flag.update', { exists: true, name: 'a' }), { exists: true, name: 'b' })).toBe('unknown');
  });
});
