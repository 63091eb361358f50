import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import type { FlagChange } from '../../../src/platforms/index.js';
import { classifyFlagsmith } from '../../../src/platforms/flagsmith/index.js';
import { requireOwnFeature } from '../../../src/platforms/flagsmith/own-feature.js';

const ENV = 'prodEnvKey123';

function change(method: string, path: string, body?: unknown): FlagChange {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const req: RawRequest = { method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = classifyFlagsmith(req);
  if (c.kind !== 'write') throw new TypeError('not a write');
  return c.change;
}

/** States as `readFlagsmithState` returns them: feature 2 (search.banner) with option 7; its identity override 8. */
const feature2 = { id: 2, name: 'search.banner', project: 1, type: 'MULTIVARIATE', multivariate_options: [{ id: 7, feature: 2, string_value: 'blue' }] };
const override8 = { exists: true, name: 'search.banner', feature: feature2, environment: { api_key: ENV, id: 1, name: 'Production' }, target: { id: 8, feature: 2, identity: 5, enabled: false } };
const variantState = (target: unknown) => ({ exists: true, name: 'search.banner', feature: feature2, target });

const check = (c: FlagChange, s: unknown) => () => requireOwnFeature(c, s);
const mismatch = expect.objectContaining({ code: 'ADAPT_TARGET_MISMATCH', status: 409 });

describe('requireOwnFeature (Flagsmith)', () => {
  it("refuses an identity override's PATCH or PUT whose body names another feature", () => {
    const path = `/api/v1/environments/${ENV}/identities/5/featurestates/8/`;
    expect(check(change('PATCH', path, { feature: 3, enabled: true }), override8)).toThrow(mismatch);
    expect(check(change('PUT', path, { feature: 3, enabled: true }), override8)).toThrow(mismatch);
    expect(check(change('PATCH', path, { feature: 2, enabled: true }), override8)).not.toThrow();
    expect(check(change('PATCH', path, { enabled: true }), override8)).not.toThrow();
    // DRF would take "2" for 2: an id as a string is refused before any state is read.
    expect(() => change('PATCH', path, { feature: '2', enabled: true })).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it('refuses a nested row (a multivariate allocation, a feature segment) that is not the state\'s own: Flagsmith would move it here', () => {
    const path = '/api/v1/features/featurestates/13/';
    const own = { exists: true, name: 'f', feature: { id: 5, multivariate_options: [{ id: 101 }, { id: 103 }, { id: 199 }] }, target: { id: 13, feature: 5, feature_segment: 4, multivariate_feature_state_values: [{ id: 1 }, { id: 3 }] } };
    const body = (ids: number[], extra: Record<string, unknown> = {}) => ({ environment: 1, feature: 5, ...(ids.length === 0 ? {} : { multivariate_feature_state_values: ids.map((id) => ({ id, multivariate_feature_option: 100 + id, percentage_allocation: 10 })) }), ...extra });
    expect(check(change('PATCH', path, body([1, 3])), own)).not.toThrow();
    expect(check(change('PATCH', path, body([1, 99])), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, body([], { feature_segment: { id: 42, segment: 2 } })), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, body([], { feature_segment: { id: 4, segment: 2 } })), own)).not.toThrow();
    // Named by an integer, as the nested route also takes them.
    expect(check(change('PATCH', path, body([], { feature_segment: 99 })), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, body([], { feature_segment: 4 })), own)).not.toThrow();
    expect(check(change('PATCH', path, body([], { identity: 1 })), own)).toThrow(mismatch);
    // null would make the segment override the environment's default; the state has no identity, so null is its own.
    expect(check(change('PATCH', path, body([], { feature_segment: null })), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, body([], { identity: null })), own)).not.toThrow();
    expect(check(change('PATCH', path, body([], { identity: null })), { ...own, target: { ...own.target, identity: 7 } })).toThrow(mismatch);
    // A state live from another time is not the one served now: live_from goes back as it was read.
    const live = { ...own, target: { ...own.target, live_from: '2026-01-01T00:00:00Z' } };
    expect(check(change('PATCH', path, body([], { live_from: '2026-01-01T00:00:00Z' })), live)).not.toThrow();
    expect(check(change('PATCH', path, body([], { live_from: '2099-01-01T00:00:00Z' })), live)).toThrow(mismatch);
    expect(check(change('PATCH', path, body([], { live_from: null })), live)).toThrow(mismatch);
    // A new state has no rows of its own.
    const create = change('POST', `/api/v1/environments/${ENV}/features/5/create-segment-override/`, { feature_segment: { id: 4, segment: 2 }, enabled: true });
    expect(check(create, own)).toThrow(mismatch);
    // `pk` is `id` to drf-writable-nested: a second spelling, refused.
    expect(() => change('PATCH', path, { environment: 1, feature: 5, multivariate_feature_state_values: [{ pk: 1, multivariate_feature_option: 1, percentage_allocation: 10 }] })).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it("refuses the nested feature-state route for a state that is not a segment override: Flagsmith updates an environment's default or an identity's override through it", () => {
    const path = '/api/v1/features/featurestates/13/';
    const body = { environment: 1, feature: 5, enabled: true };
    const state = (target: Record<string, unknown>) => ({ exists: true, name: 'f', feature: { id: 5 }, target: { id: 13, feature: 5, ...target } });
    expect(check(change('PATCH', path, body), state({ feature_segment: 4, identity: null }))).not.toThrow();
    expect(check(change('PUT', path, body), state({ feature_segment: null, identity: null }))).toThrow(mismatch);
    expect(check(change('PATCH', path, body), state({ feature_segment: null, identity: 7 }))).toThrow(mismatch);
    expect(check(change('PATCH', path, body), state({ identity: { id: 7 } }))).toThrow(mismatch);
    expect(check(change('PATCH', path, body), state({}))).toThrow(mismatch);
  });

  it('refuses an allocation list that leaves out a row the state holds: Flagsmith deletes it, even on a PATCH', () => {
    const own = { exists: true, name: 'f', feature: { id: 5, multivariate_options: [{ id: 101 }, { id: 102 }] }, target: { id: 13, feature: 5, feature_segment: 4, multivariate_feature_state_values: [{ id: 1, multivariate_feature_option: 101 }, { id: 2, multivariate_feature_option: 102 }] } };
    const allocate = (rows: Array<[number, number, number]>) => ({ environment: 1, feature: 5, multivariate_feature_state_values: rows.map(([id, option, percentage]) => ({ id, multivariate_feature_option: option, percentage_allocation: percentage })) });
    expect(check(change('PATCH', '/api/v1/features/featurestates/13/', allocate([[1, 101, 60]])), own)).toThrow(mismatch);
    expect(check(change('PATCH', '/api/v1/features/featurestates/13/', allocate([[1, 101, 60], [2, 102, 0]])), own)).not.toThrow();
    const environmentState = { ...own, target: { ...own.target, feature_segment: null } };
    expect(check(change('PUT', `/api/v1/environments/${ENV}/featurestates/13/`, { feature: 5, enabled: true, multivariate_feature_state_values: allocate([[2, 102, 10]]).multivariate_feature_state_values }), environmentState)).toThrow(mismatch);
  });

  it('refuses a new option on a feature set to STANDARD with its options kept: it would serve them all again', () => {
    const create = change('POST', '/api/v1/projects/1/features/2/mv-options/', { feature: 2, type: 'unicode', string_value: 'free', default_percentage_allocation: 0 });
    expect(check(create, variantState(null))).not.toThrow();
    expect(check(create, { ...variantState(null), feature: { ...feature2, type: 'STANDARD' } })).toThrow(mismatch);
    // A STANDARD feature without options becomes multivariate with only the new one: its entry shows that.
    expect(check(create, { ...variantState(null), feature: { ...feature2, type: 'STANDARD', multivariate_options: [] } })).not.toThrow();
  });

  it("refuses a new segment override on a segment the feature's project does not serve, or one specific to another feature", () => {
    const path = `/api/v1/environments/${ENV}/features/5/create-segment-override/`;
    const create = change('POST', path, { feature_segment: { segment: 2 }, enabled: true, feature_state_value: { type: 'unicode', string_value: 'x' } });
    const state = (segment: unknown) => ({ exists: true, name: 'f', feature: { id: 5, multivariate_options: [] }, segment });
    expect(check(create, state({ id: 2, name: 'beta', feature: null }))).not.toThrow();
    expect(check(create, state({ id: 2, name: 'beta', feature: 5 }))).not.toThrow();
    // Another project's segment, or a hidden revision: the project's read does not find it.
    expect(check(create, state(null))).toThrow(mismatch);
    // Specific to feature 4: deleting feature 4 would delete this override with its segment.
    expect(check(create, state({ id: 2, name: 'beta', feature: 4 }))).toThrow(mismatch);
  });

  it("refuses an allocation to an option that is not the feature's own: Flagsmith serves the option allocated, whoever's it is", () => {
    const own = { exists: true, name: 'f', feature: { id: 5, multivariate_options: [{ id: 101 }, { id: 102 }] }, target: { id: 13, feature: 5, feature_segment: 4, multivariate_feature_state_values: [] }, segment: { id: 2, name: 'beta', feature: null } };
    const allocate = (option: number) => ({ environment: 1, feature: 5, multivariate_feature_state_values: [{ multivariate_feature_option: option, percentage_allocation: 10 }] });
    expect(check(change('PATCH', '/api/v1/features/featurestates/13/', allocate(102)), own)).not.toThrow();
    expect(check(change('PATCH', '/api/v1/features/featurestates/13/', allocate(999)), own)).toThrow(mismatch);
    const override = (option: number) => ({ enabled: true, feature_segment: { segment: 2 }, feature_state_value: { type: 'unicode', string_value: 'x' }, multivariate_feature_state_values: [{ multivariate_feature_option: option, percentage_allocation: 10 }] });
    const path = `/api/v1/environments/${ENV}/features/5/create-segment-override/`;
    expect(check(change('POST', path, override(101)), own)).not.toThrow();
    expect(check(change('POST', path, override(999)), own)).toThrow(mismatch);
    // A state read that lists no options proves none.
    expect(check(change('POST', path, override(101)), { ...own, feature: { id: 5 } })).toThrow(mismatch);
    // A new identity override (no state yet) creates its allocations all the same.
    const identity = (option: number) => change('POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, { feature: 5, enabled: true, multivariate_feature_state_values: [{ multivariate_feature_option: option, percentage_allocation: 100 }] });
    const noOverride = { exists: false, name: 'f', feature: own.feature };
    expect(check(identity(101), noOverride)).not.toThrow();
    expect(check(identity(999), noOverride)).toThrow(mismatch);
    // A feature's nested option named by id is saved over that row: it must be the feature's, and a new feature has none.
    const options = (...ids: number[]) => ({ metadata: [], multivariate_options: ids.map((id) => ({ id, type: 'unicode', string_value: 'x', integer_value: null, boolean_value: null, default_percentage_allocation: 10 })) });
    expect(check(change('PUT', '/api/v1/projects/1/features/5/', options(101, 102)), own)).not.toThrow();
    expect(check(change('PUT', '/api/v1/projects/1/features/5/', options(101, 102, 555)), own)).toThrow(mismatch);
    expect(check(change('POST', '/api/v1/projects/1/features/', { name: 'g', ...options(555) }), { exists: false, name: 'g' })).toThrow(mismatch);
  });

  it('refuses a list Flagsmith replaces whole that leaves out what it holds: options, metadata, a PUT\'s segment overrides', () => {
    const feature = { id: 5, multivariate_options: [{ id: 101 }, { id: 102 }], metadata: [{ model_field: 1, field_value: 'x' }] };
    const own = { exists: true, name: 'f', feature };
    const path = '/api/v1/projects/1/features/5/';
    const option = (id: number) => ({ id, type: 'unicode', string_value: 'x', integer_value: null, boolean_value: null, default_percentage_allocation: 10 });
    const metadata = [{ model_field: 1, field_value: 'x' }];
    // Options left out are deleted, with their allocations in every environment.
    expect(check(change('PATCH', path, { metadata, multivariate_options: [option(101), option(102)] }), own)).not.toThrow();
    expect(check(change('PATCH', path, { metadata, multivariate_options: [option(101)] }), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, { metadata, multivariate_options: [] }), own)).toThrow(mismatch);
    // A body without metadata deletes it all; with none held there is nothing to delete.
    expect(check(change('PATCH', path, { description: 'd' }), own)).toThrow(mismatch);
    expect(check(change('PATCH', path, { description: 'd' }), { ...own, feature: { ...feature, metadata: [] } })).not.toThrow();
    expect(check(change('PATCH', path, { description: 'd' }), { ...own, feature: { id: 5 } })).toThrow(mismatch);
    // A __future__ PUT deletes the overrides it leaves out and resets what a listed one leaves out; a new one needs its priority.
    const future = `/api/__future__/environments/${ENV}/features/5/`;
    const held = { exists: true, name: 'f', feature: { id: 5, type: 'STANDARD', multivariate_options: [], metadata: [] }, target: { environment_default: { enabled: true }, segment_overrides: [{ segment: { id: 3 }, priority: 0, enabled: true }] } };
    const override = (segment: number, extra: Record<string, unknown> = {}) => ({ segment: { id: segment }, enabled: true, value: { type: 'string', value: 'x' }, ...extra });
    expect(check(change('PUT', future, { segment_overrides: [override(3)] }), held)).not.toThrow();
    expect(check(change('PUT', future, { segment_overrides: [] }), held)).toThrow(mismatch);
    expect(check(change('PUT', future, { segment_overrides: [{ segment: { id: 3 }, enabled: false }] }), held)).toThrow(mismatch);
    expect(check(change('PATCH', future, { segment_overrides: [{ segment: { id: 3 }, enabled: false }] }), held)).not.toThrow();
    expect(check(change('PATCH', future, { segment_overrides: [override(4)] }), held)).toThrow(mismatch);
    expect(check(change('PATCH', future, { segment_overrides: [override(4, { priority: 1 })] }), held)).not.toThrow();
    // A multivariate feature's override without variants takes the environment default's weights.
    const mv = { ...held, feature: { ...held.feature, type: 'MULTIVARIATE', multivariate_options: [{ id: 101 }] } };
    expect(check(change('PUT', future, { segment_overrides: [override(3)] }), mv)).toThrow(mismatch);
    expect(check(change('PUT', future, { segment_overrides: [override(3, { variants: [{ id: 101, weight: 50 }] })] }), mv)).not.toThrow();
    expect(check(change('PATCH', future, { segment_overrides: [override(4, { priority: 1 })] }), mv)).toThrow(mismatch);
  });

  it("refuses a variant created or updated under one feature whose body names another, or an option that is not the path feature's", () => {
    const create = change('POST', '/api/v1/projects/1/features/2/mv-options/', { feature: 3, type: 'unicode', string_value: 'free', default_percentage_allocation: 50 });
    expect(check(create, variantState(null))).toThrow(mismatch);
    expect(check(change('POST', '/api/v1/projects/1/features/2/mv-options/', { feature: 2, type: 'unicode', string_value: 'free' }), variantState(null))).not.toThrow();
    const update = (id: number, body: unknown) => change('PUT', `/api/v1/projects/1/features/2/mv-options/${id}/`, body);
    expect(check(update(7, { feature: 3, type: 'unicode', string_value: 'free' }), variantState(feature2.multivariate_options[0]))).toThrow(mismatch);
    expect(check(update(7, { feature: 2, type: 'unicode', string_value: 'free' }), variantState(feature2.multivariate_options[0]))).not.toThrow();
    // Option 9 is not among feature 2's: readState found no target.
    expect(check(update(9, { feature: 2, type: 'unicode', string_value: 'free' }), variantState(null))).toThrow(mismatch);
    expect(check(change('DELETE', '/api/v1/projects/1/features/2/mv-options/9/'), variantState(null))).toThrow(mismatch);
    expect(check(change('DELETE', '/api/v1/projects/1/features/2/mv-options/7/'), variantState(feature2.multivariate_options[0]))).not.toThrow();
  });

  it('leaves a change whose state does not exist to the platform (nothing to move)', () => {
    expect(check(change('POST', `/api/v1/environments/${ENV}/identities/5/featurestates/`, { feature: 3, enabled: true }), { exists: false, name: 'payments.checkout' })).not.toThrow();
  });
});
