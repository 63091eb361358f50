/**
 * The Flagsmith double's model mode against exchanges with a real Flagsmith 2.265.0 run for this
 * project (test/fixtures/flagsmith/local/): after the same set-up, the model answers each request
 * with the recorded status, and with the recorded body where it holds no ids, else with its shape.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEV_KEY, startFlagsmithDouble, type FlagsmithDouble } from '../../support/flagsmith/double.js';
import { FLAGSMITH_DIR, type Recording } from '../../support/flagsmith/recordings.js';

type Json = Record<string, unknown>;
const KEY = 'Api-Key model';
let double: FlagsmithDouble;

const recorded = (name: string) => JSON.parse(readFileSync(join(FLAGSMITH_DIR, 'local', `${name}.json`), 'utf8')) as Omit<Recording, 'file'>;
const keysOf = (o: unknown) => Object.keys(o as Json).sort();

async function send(method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(double.url + path, { method, headers: { authorization: KEY, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as unknown) : null };
}

const newFeature = async (body: Json) => (await send('POST', '/api/v1/projects/1/features/', body)).body as { id: number };

beforeAll(async () => {
  double = await startFlagsmithDouble({ mode: 'model', credentials: [KEY] });
}, 60_000);
afterAll(async () => {
  await double?.stop();
});

describe('the Flagsmith model against a real Flagsmith 2.265.0', () => {
  it('refuses a name that differs from an existing one only in case, and a second override of one feature for one identity', async () => {
    await newFeature({ name: 'cmp_case' });
    const again = await send('POST', '/api/v1/projects/1/features/', { name: 'CMP_case' });
    const real = recorded('008-feature-create-same-name-other-case');
    expect(again).toEqual({ status: real.response.status, body: real.response.body });

    const { id } = await newFeature({ name: 'cmp_override' });
    await send('POST', `/api/v1/environments/${DEV_KEY}/identities/4/featurestates/`, { feature: id, enabled: false });
    const twice = await send('POST', `/api/v1/environments/${DEV_KEY}/identities/4/featurestates/`, { feature: id, enabled: false });
    const duplicate = recorded('013-identity-override-create-duplicate');
    expect(twice).toEqual({ status: duplicate.response.status, body: duplicate.response.body });
  });

  it('answers an environment key it does not have as the real server does', async () => {
    for (const name of ['019-featurestates-list-unknown-env', '020-environment-get-unknown']) {
      const real = recorded(name);
      expect(await send(real.request.method, real.request.path), name).toEqual({ status: real.response.status, body: real.response.body });
    }
  });

  it('serves an initial value of "12" as the integer, and reads a feature back in the same shape', async () => {
    const { id } = await newFeature({ name: 'cmp_value', initial_value: '12' });
    const real = recorded('002-featurestates-list-by-feature').response.body as { results: Json[] };
    const list = (await send('GET', `/api/v1/environments/${DEV_KEY}/featurestates/?feature=${id}`)).body as { results: Json[] };
    expect(list.results[0]!.feature_state_value).toBe(real.results[0]!.feature_state_value);
    expect(keysOf(list.results[0])).toEqual(keysOf(real.results[0]));
    expect(keysOf((await send('GET', `/api/v1/projects/1/features/${id}/`)).body)).toEqual(keysOf(recorded('016-feature-get').response.body));
  });

  it("lists every state of a feature with values as objects, and a feature segment without its feature", async () => {
    const { id } = await newFeature({ name: 'cmp_states' });
    const override = (await send('POST', `/api/v1/environments/${DEV_KEY}/features/${id}/create-segment-override/`, { feature_segment: { segment: 1 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'x' } })).body as { feature_segment: { id: number } };
    await send('POST', `/api/v1/environments/${DEV_KEY}/identities/7/featurestates/`, { feature: id, enabled: false });
    const real = recorded('103-read-nested-featurestates-list').response.body as { results: Json[] };
    const list = (await send('GET', `/api/v1/features/featurestates/?environment=1&feature=${id}`)).body as { results: Json[] };
    const kinds = (rows: Json[]) => rows.map((r) => [r.feature_segment === null ? 'default' : 'segment', r.identity === null ? '' : 'identity']).sort();
    expect(kinds(list.results)).toEqual(kinds(real.results));
    for (const row of list.results) {
      expect(keysOf(row)).toEqual(keysOf(real.results[0]));
      expect(keysOf(row.feature_state_value)).toEqual(keysOf(real.results[0]!.feature_state_value));
    }
    const segment = await send('GET', `/api/v1/features/feature-segments/${override.feature_segment.id}/`);
    expect(segment.status).toBe(200);
    expect(keysOf(segment.body)).toEqual(keysOf(recorded('101-read-feature-segment-get').response.body));
  });

  it('says whether an environment is versioned, and lists the versions not live in the recorded shape', async () => {
    const env = (await send('GET', `/api/v1/environments/${DEV_KEY}/`)).body as Json;
    expect(env.use_v2_feature_versioning).toBe(false);
    expect((recorded('104-read-environment-versioned').response.body as Json).use_v2_feature_versioning).toBe(true);
    await newFeature({ name: 'cmp_versions' });
    // As recorded: a version published for later, then a draft; the newest is listed first.
    double.addVersion(DEV_KEY, 'cmp_versions', '2099-01-01T00:00:00.000000Z');
    double.addVersion(DEV_KEY, 'cmp_versions', null);
    const { id } = ((await send('GET', '/api/v1/projects/1/features/?search=cmp_versions')).body as { results: Array<{ id: number }> }).results[0]!;
    const real = recorded('105-read-versions-not-live');
    const list = await send('GET', `/api/v1/environments/1/features/${id}/versions/?is_live=false&page_size=999`);
    const rows = (list.body as { results: Json[] }).results;
    const realRows = (real.response.body as { results: Json[] }).results;
    expect(list.status).toBe(real.response.status);
    expect(keysOf(list.body)).toEqual(keysOf(real.response.body));
    expect(rows.map((r) => [r.published, r.is_live])).toEqual(realRows.map((r) => [r.published, r.is_live]));
    for (const row of rows) expect(keysOf(row)).toEqual(keysOf(realRows[0]));
    const unknown = recorded('106-read-versions-unknown-feature');
    expect(await send('GET', unknown.request.path)).toEqual({ status: unknown.response.status, body: unknown.response.body });
    expect((await send('GET', `/api/v1/environments/${DEV_KEY}/`)).body).toMatchObject({ use_v2_feature_versioning: true });
  });

  it('answers a segment of the project, with its rules, in the recorded shape, and one it lacks with 404', async () => {
    const real = recorded('107-read-segment-get');
    const segment = await send('GET', '/api/v1/projects/1/segments/1/');
    expect(segment.status).toBe(real.response.status);
    expect(keysOf(segment.body)).toEqual(keysOf(real.response.body));
    expect(keysOf((segment.body as { rules: Json[] }).rules[0])).toEqual(keysOf((real.response.body as { rules: Json[] }).rules[0]));
    const unknown = recorded('108-read-segment-get-unknown');
    expect(await send('GET', unknown.request.path)).toEqual({ status: unknown.response.status, body: unknown.response.body });
  });

  it("lists the project's environments in a page, as the real server does", async () => {
    const real = recorded('109-read-environments-list').response.body as { results: Json[] };
    const list = (await send('GET', '/api/v1/environments/?project=1&page=1')).body as { results: Json[] };
    expect(keysOf(list)).toEqual(keysOf(real));
    // The members flaggate reads are where the real server has them.
    for (const key of ['id', 'name', 'api_key', 'project', 'use_v2_feature_versioning']) {
      expect(real.results[0]).toHaveProperty(key);
      for (const env of list.results) expect(env).toHaveProperty(key);
    }
    expect((await send('GET', '/api/v1/environments/?project=1&page=2')).status).toBe(404);
  });
});
