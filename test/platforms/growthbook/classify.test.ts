import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyGrowthBook, readGrowthBookState, settledGrowthBook } from '../../../src/platforms/growthbook/index.js';
import type { FlagChange } from '../../../src/platforms/index.js';
import { startGrowthBookDouble, type GrowthBookDouble } from '../../support/growthbook/double.js';

const F = '/api/v1/features';

function raw(method: string, path: string, body?: unknown, contentType = 'application/json'): RawRequest {
  const bytes = Buffer.from(body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body), 'utf8');
  return { method, path, headers: body === undefined ? {} : { 'content-type': contentType }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
}
const change = (req: RawRequest): FlagChange => {
  const c = classifyGrowthBook(req);
  if (c.kind !== 'write') throw new Error(`not a write: ${c.kind}`);
  return c.change;
};

describe('classifyGrowthBook', () => {
  it.each([
    { name: 'toggle on in one environment', path: `${F}/checkout/toggle`, body: { environments: { production: 'true' } }, want: { action: 'flag.enable', environment: 'production', environments: ['production'] } },
    { name: 'toggle off, as GrowthBook reads "0"', path: `${F}/checkout/toggle`, body: { environments: { dev: '0', production: 0 } }, want: { action: 'flag.disable', environment: '*', environments: ['dev', 'production'] } },
    { name: 'mixed toggles', path: `${F}/checkout/toggle`, body: { environments: { dev: true, production: false } }, want: { action: 'flag.update', environments: ['dev', 'production'] } },
    { name: 'rules in one environment', path: `${F}/checkout`, body: { environments: { production: { enabled: true, rules: [] } } }, want: { action: 'flag.update', environment: 'production' } },
    { name: 'rules and a description', path: `${F}/checkout`, body: { description: 'd', environments: { dev: { enabled: true, rules: [] } } }, want: { action: 'flag.update', environments: ['dev'] } },
    { name: 'the default value serves every environment', path: `${F}/checkout`, body: { defaultValue: 'true', environments: { dev: { enabled: true, rules: [] } } }, want: { action: 'flag.update', environment: '*', environments: ['*'] } },
    { name: 'descriptive fields alter no environment', path: `${F}/checkout`, body: { description: 'd', tags: ['t'] }, want: { action: 'flag.update', environments: [] } },
    { name: 'archive', path: `${F}/checkout`, body: { archived: true }, want: { action: 'flag.archive', environments: ['*'] } },
    { name: 'revive', path: `${F}/checkout`, body: { archived: false, ignoreWarnings: true }, want: { action: 'flag.revive', newState: { ignoreWarnings: true } } },
    { name: 'revert', path: `${F}/checkout/revert`, body: { revision: 3 }, want: { action: 'flag.update', environment: '*' } },
    { name: 'a key with GrowthBook\'s other characters', path: `${F}/team%3Acheckout%7Cv2/toggle`, body: { environments: { dev: true } }, want: { flagKey: 'team:checkout|v2', request: { path: `${F}/team%3Acheckout%7Cv2/toggle` } } },
  ])('$name', ({ path, body, want }) => {
    expect(change(raw('POST', path, body))).toMatchObject({ platform: 'growthbook', flagKey: expect.any(String), ...want });
  });

  it('creates with the environments the body enables, and none when it names none', () => {
    expect(change(raw('POST', F, { id: 'n', valueType: 'boolean', defaultValue: 'false', owner: 'o', environments: { production: { enabled: false, rules: [] } } }))).toMatchObject({ action: 'flag.create', flagKey: 'n', environment: 'production' });
    const bare = change(raw('POST', F, { id: 'n', valueType: 'boolean', defaultValue: 'false' }));
    expect(bare.environments).toEqual([]);
    expect(bare.environment).toBeUndefined();
  });

  it.each([
    { name: 'a toggle value GrowthBook reads as off without saying so', path: `${F}/c/toggle`, body: { environments: { production: 'no' } }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a toggle of nothing', path: `${F}/c/toggle`, body: { environments: {} }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'an unknown field', path: `${F}/c`, body: { enabled: true }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'an update of nothing but gate overrides', path: `${F}/c`, body: { skipHooks: true }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'environment settings that are not an object', path: `${F}/c`, body: { environments: { production: true } }, code: 'ADAPT_BODY_MALFORMED' },
    // In GrowthBook's schema, read by none of its handlers: recorded as applied, it would change nothing.
    { name: 'a draft of an environment\'s rules', path: `${F}/c`, body: { environments: { production: { draft: { rules: [] } } } }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'an environment\'s definition', path: `${F}/c`, body: { environments: { production: { enabled: true, definition: '{}' } } }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a feature id outside GrowthBook\'s alphabet', path: F, body: { id: 'a b', valueType: 'boolean', defaultValue: 'x' }, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a query on a write', path: `${F}/c/toggle?x=1`, body: { environments: { dev: true } }, code: 'ADAPT_QUERY_REFUSED' },
    { name: 'an encoded slash in the key', path: `${F}/c%2Ftoggle`, body: { environments: { dev: true } }, code: 'ADAPT_ROUTE_UNKNOWN' },
  ])('rejects $name', ({ path, body, code }) => {
    expect(() => classifyGrowthBook(raw('POST', path, body))).toThrow(expect.objectContaining({ code }));
  });

  it('refuses form data, which GrowthBook would also take', () => {
    expect(() => classifyGrowthBook(raw('POST', `${F}/c/toggle`, 'environments[dev]=1', 'application/x-www-form-urlencoded'))).toThrow(expect.objectContaining({ code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' }));
  });

  it('leaves drafts, revisions, v2 and other areas unrecognized, and reads only flag data', () => {
    for (const [method, path] of [['POST', `${F}/c/revisions/2/publish`], ['PUT', `${F}/c/revisions/2/rules/r`], ['POST', '/api/v2/features'], ['POST', '/api/v1/environments'], ['PUT', `${F}/c`]]) {
      expect(classifyGrowthBook(raw(method!, path!, {})).kind, `${method} ${path}`).toBe('unrecognized');
    }
    expect(classifyGrowthBook(raw('GET', `${F}/c?withRevisions=all`))).toMatchObject({ kind: 'read', read: { flagKey: 'c' } });
    expect(() => classifyGrowthBook(raw('GET', '/api/v1/members'))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
    expect(() => classifyGrowthBook(raw('GET', '/api/v2/features'))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
  });
});

describe('readGrowthBookState and settledGrowthBook, against the double', () => {
  const SECRET = 'secret_read0123';
  let double: GrowthBookDouble;
  const opts = () => ({ baseUrl: double.url, token: SECRET, timeoutMs: 20_000 }) // the first request compiles the validator;
  beforeAll(async () => {
    double = await startGrowthBookDouble({ secretKey: SECRET });
  });
  afterAll(() => double.stop());

  it('reads a missing feature (GrowthBook\'s 400 "Could not find") as absent, and the environments a change names', async () => {
    const toggle = change(raw('POST', `${F}/checkout/toggle`, { environments: { production: true } }));
    expect(await readGrowthBookState(opts(), toggle)).toEqual({ exists: false });
    await fetch(`${double.url}${F}`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ id: 'checkout', owner: 'o', valueType: 'boolean', defaultValue: 'false' }) });
    const state = await readGrowthBookState(opts(), toggle);
    expect(state).toEqual({ exists: true, id: 'checkout', valueType: 'boolean', defaultValue: 'false', archived: false, project: '', prerequisites: [], version: 1, environments: { production: { enabled: false, rules: [] } } });
    expect(settledGrowthBook({ ...toggle, previousState: state }, state)).toBe('not_applied');
    const on = { ...state, environments: { production: { enabled: true, rules: [] } } };
    expect(settledGrowthBook({ ...toggle, previousState: state }, on)).toBe('applied');
  });

  it('fails closed on a wrong key and on a base URL that is not GrowthBook', async () => {
    const toggle = change(raw('POST', `${F}/checkout/toggle`, { environments: { production: true } }));
    await expect(readGrowthBookState({ ...opts(), token: 'secret_wrong' }, toggle)).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
    await expect(readGrowthBookState({ ...opts(), baseUrl: `${double.url}/api` }, toggle)).rejects.toMatchObject({ code: 'ADAPT_STATE_UNAVAILABLE' });
  });

  it('the double refuses a request its OpenAPI document refuses, as GrowthBook does', async () => {
    const res = await fetch(`${double.url}${F}/checkout/toggle`, { method: 'POST', headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: JSON.stringify({ environments: { production: 'yes' } }) });
    expect(res.status).toBe(400);
    expect(double.received.at(-1)).toMatchObject({ valid: false });
    expect(double.invalidResponses).toEqual([]);
  });
});

describe('GrowthBook stores some bodies otherwise than they read', () => {
  const malformed = expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' });
  const rule = (r: Record<string, unknown>) => ({ environments: { production: { enabled: true, rules: [r] } } });

  it.each(['0', 'off', 'FALSE', '', 'no'])('refuses %j as a boolean feature\'s value (GrowthBook serves "true" or "false" for it)', (value) => {
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'kill', valueType: 'boolean', defaultValue: value }))).toThrow(malformed);
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'kill', valueType: 'boolean', defaultValue: 'true', ...rule({ type: 'force', value }) }))).toThrow(malformed);
  });

  it("holds an update's values to the feature's type from the state read", async () => {
    const { growthBookReach } = await import('../../../src/platforms/growthbook/reach.js');
    const update = change(raw('POST', `${F}/kill`, { defaultValue: 'off' }));
    expect(() => growthBookReach(update, { exists: true, valueType: 'boolean' })).toThrow(malformed);
    expect(() => growthBookReach(update, { exists: true, valueType: 'string' })).not.toThrow();
    expect(() => growthBookReach(change(raw('POST', `${F}/kill`, { defaultValue: 'false' })), { exists: true, valueType: 'boolean' })).not.toThrow();
  });

  it.each(['{"a": 1} {"a": 2}', 'true false', 'hello world', "{limit: 10, mode: 'safe'"])("refuses %j as a JSON feature's value (GrowthBook repairs it with dirty-json into another)", (value) => {
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'cfg', valueType: 'json', defaultValue: value }))).toThrow(malformed);
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'cfg', valueType: 'json', defaultValue: '{}', ...rule({ type: 'force', value }) }))).toThrow(malformed);
    const ref = { type: 'experiment-ref', experimentId: 'exp_1', variations: [{ variationId: 'v0', value: '{}' }, { variationId: 'v1', value }] };
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'cfg', valueType: 'json', defaultValue: '{}', ...rule(ref) }))).toThrow(malformed);
    // The same text is a string feature's value as it stands.
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'cfg', valueType: 'string', defaultValue: value }))).not.toThrow();
  });

  it("holds a JSON feature's update to JSON text once the state read names its type", async () => {
    const { growthBookReach } = await import('../../../src/platforms/growthbook/reach.js');
    expect(() => growthBookReach(change(raw('POST', `${F}/cfg`, { defaultValue: '{"a": 1} {"a": 2}' })), { exists: true, valueType: 'json' })).toThrow(malformed);
    expect(() => growthBookReach(change(raw('POST', `${F}/cfg`, rule({ type: 'rollout', value: '[1,', coverage: 0.5, hashAttribute: 'id' }))), { exists: true, valueType: 'json' })).toThrow(malformed);
    expect(() => growthBookReach(change(raw('POST', `${F}/cfg`, { defaultValue: '{"a": [1, 2], "b": null}' })), { exists: true, valueType: 'json' })).not.toThrow();
  });

  it('refuses members GrowthBook drops from force, rollout and experiment-ref rules, or overrides', () => {
    const force = { type: 'force', value: 'true', condition: '{"id":"x"}' };
    const rollout = { type: 'rollout', value: 'true', coverage: 0.05, hashAttribute: 'id' };
    const ref = { type: 'experiment-ref', experimentId: 'exp_1', variations: [{ variationId: 'v0', value: 'a' }, { variationId: 'v1', value: 'b' }] };
    const refused = [
      // A force rule has no coverage: served to everyone the condition matches.
      { ...force, coverage: 0.05, hashAttribute: 'id' },
      { ...force, coverage: 0 },
      { ...rollout, namespace: { enabled: true, name: 'ns', range: [0, 0.1] } },
      // An experiment-ref rule takes the experiment's targeting.
      { ...ref, condition: '{"country":"US"}' },
      { ...ref, savedGroups: [{ match: 'all', ids: ['grp_beta'] }] },
      { ...ref, variations: [{ variationId: 'v0', value: 'a', weight: 0.9 }, { variationId: 'v1', value: 'b', weight: 0.1 }] },
      // An empty savedGroups wins over savedGroupTargeting; allProjects: true over projects.
      { ...force, savedGroups: [], savedGroupTargeting: [{ matchType: 'all', savedGroups: ['grp_internal'] }] },
      { ...rollout, allProjects: true, projects: ['payments'] },
      // Members of list items GrowthBook's schemas strip, two spellings of one list, and a ramp GrowthBook's v1 write does not keep.
      { ...force, prerequisites: [{ id: 'parent', condition: '{"value":true}', enabled: false }] },
      { ...force, savedGroupTargeting: [{ matchType: 'all', savedGroups: ['g'], negate: true }] },
      { type: 'experiment', condition: '', trackingKey: 't', coverage: 1, values: [{ value: 'a', weight: 1 }], value: [{ value: 'b', weight: 1 }] },
      { ...force, scheduleType: 'ramp' },
      // A rule's scope, which GrowthBook sets itself (to the environments that inherit, or all once it covers every one), or other groups named twice.
      { ...force, allEnvironments: true },
      { ...force, allEnvironments: false },
      { ...force, environments: ['production'] },
      { ...force, savedGroups: [{ match: 'all', ids: ['a'], negate: true }] },
      { ...force, savedGroups: [{ match: 'all', ids: ['a'] }], savedGroupTargeting: [{ matchType: 'all', savedGroups: ['b'] }] },
      { type: 'experiment', condition: '', trackingKey: 't', coverage: 1, values: [{ value: 'a', weight: 1, variationId: 'v0' }] },
    ];
    for (const r of refused) expect(() => classifyGrowthBook(raw('POST', `${F}/checkout`, rule(r))), JSON.stringify(r)).toThrow(malformed);
    expect(() => classifyGrowthBook(raw('POST', F, { id: 'n', valueType: 'string', defaultValue: 'a', ...rule(refused[0]!) }))).toThrow(malformed);
    // What GrowthBook keeps, and targeting members that target no one (a rule posted back as read).
    const kept = [
      { ...force, id: 'fr_1', enabled: true, description: 'd', savedGroups: [{ match: 'all', ids: ['g'] }], prerequisites: [], scheduleRules: [], sparse: false, allProjects: false, projects: ['web'] },
      { ...rollout, condition: '', savedGroupTargeting: [{ matchType: 'any', savedGroups: ['g'] }], seed: 's', hashVersion: 2 },
      { ...ref, condition: '', savedGroups: [], id: 'fr_2', enabled: false },
      { ...force, savedGroups: [], savedGroupTargeting: [] },
      // Rules as GrowthBook's GET writes them (normalizeRuleForApi), posted back unchanged.
      { description: '', id: 'fr_3', condition: '', enabled: true, scheduleType: 'none', savedGroupTargeting: [{ matchType: 'all', savedGroups: ['g'] }], prerequisites: [], type: 'force', value: 'true' },
      { description: '', id: 'fr_4', condition: '{"id":"x"}', enabled: true, scheduleRules: [{ enabled: true, timestamp: null }, { enabled: false, timestamp: null }], scheduleType: 'schedule', savedGroupTargeting: [], prerequisites: [], type: 'rollout', value: 'true', coverage: 0.5, hashAttribute: 'id', seed: 's', hashVersion: 2 },
      { description: '', id: 'fr_5', condition: '', enabled: true, scheduleType: 'none', savedGroupTargeting: [], prerequisites: [], type: 'experiment', coverage: 1, trackingKey: 't', hashAttribute: 'id', fallbackAttribute: '', value: [{ value: 'a', weight: 0.5 }, { value: 'b', weight: 0.5 }] },
      { description: '', id: 'fr_6', condition: '', enabled: true, scheduleType: 'none', savedGroupTargeting: [], prerequisites: [], type: 'experiment-ref', variations: [{ variationId: 'v0', value: 'a' }], experimentId: 'exp_1' },
      // And as the feature's own GET writes them (getApiFeatureObj: the stored rule spread, coverage 1 beside a force or experiment-ref rule, both saved-group spellings), its scope left out.
      { id: 'fr_7', type: 'force', value: 'true', description: '', condition: '', enabled: true, savedGroups: [{ match: 'any', ids: ['g'] }], savedGroupTargeting: [{ matchType: 'any', savedGroups: ['g'] }], prerequisites: [], coverage: 1 },
      { id: 'fr_8', type: 'experiment-ref', experimentId: 'exp_1', variations: [{ variationId: 'v0', value: 'a' }], description: '', condition: '', enabled: true, savedGroupTargeting: [], prerequisites: [], coverage: 1 },
    ];
    for (const r of kept) expect(() => classifyGrowthBook(raw('POST', `${F}/checkout`, rule(r))), JSON.stringify(r)).not.toThrow();
    // A type GrowthBook does not take is its to refuse, not a crash here (one named after an object's own property included).
    for (const type of ['constructor', 'toString', '__proto__']) expect(classifyGrowthBook(raw('POST', `${F}/checkout`, rule({ type, value: 'true' }))).kind).toBe('write');
  });

  it('refuses an experiment rule carrying targeting GrowthBook drops, and takes one without', () => {
    const experiment = { type: 'experiment', trackingKey: 't', hashAttribute: 'id', coverage: 1, values: [{ value: 'a', weight: 0.5 }, { value: 'b', weight: 0.5 }] };
    for (const extra of [{ condition: '{"country":"US"}' }, { savedGroups: [{ match: 'all', ids: ['g'] }] }, { namespace: { enabled: true, name: 'n', range: [0, 0.5] } }, { fallbackAttribute: 'device' }]) {
      expect(() => classifyGrowthBook(raw('POST', `${F}/exp`, rule({ ...experiment, ...extra }))), JSON.stringify(extra)).toThrow(malformed);
    }
    expect(() => classifyGrowthBook(raw('POST', `${F}/exp`, rule({ ...experiment, condition: '' })))).not.toThrow();
    // Members whose loss changes no targeting.
    expect(() => classifyGrowthBook(raw('POST', `${F}/exp`, rule({ ...experiment, allProjects: true, bucketVersion: 0, namespace: { enabled: false, name: '', range: [0, 1] } })))).not.toThrow();
  });
});
