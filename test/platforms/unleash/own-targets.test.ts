import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import type { FlagChange } from '../../../src/platforms/index.js';
import { classifyUnleash } from '../../../src/platforms/unleash/index.js';
import { requireOwnTargets } from '../../../src/platforms/unleash/own-targets.js';

const P = '/api/admin/projects/default/features';

function change(method: string, path: string, body?: unknown): FlagChange {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body));
  const req: RawRequest = { method, path, headers: body === undefined ? {} : { 'content-type': 'application/json' }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
  const c = classifyUnleash(req);
  if (c.kind !== 'write') throw new TypeError('not a write');
  return c.change;
}

/** A flag as `readState` reduces it: one strategy in each environment, one link. */
const state = {
  exists: true,
  project: 'default',
  name: 'shop.banner',
  environments: {
    development: { enabled: true, strategies: [{ id: 'dev-1', name: 'default', parameters: {}, constraints: [], segments: [] }, { id: 'dev-2', name: 'default', parameters: {}, constraints: [], segments: [] }] },
    production: { enabled: true, strategies: [{ id: 'prod-1', name: 'default', parameters: {}, constraints: [], segments: [] }] },
  },
  links: [{ id: 'link-1', url: 'https://a.example.test', title: null }],
};
/** `readState` keeps only the path's environment for a named one. */
const onlyIn = (env: 'development' | 'production') => ({ ...state, environments: { [env]: state.environments[env] } });

const check = (c: FlagChange, s: unknown) => () => requireOwnTargets(c, s);
const mismatch = expect.objectContaining({ code: 'ADAPT_TARGET_MISMATCH', status: 409 });

describe('requireOwnTargets (Unleash)', () => {
  it('refuses a variants batch naming an environment the flag does not have, where Unleash writes nothing', () => {
    const batch = (environments: string[]) => change('PUT', `${P}/shop.banner/variants-batch`, { variants: [{ name: 'a', weight: 1000, weightType: 'variable', stickiness: 'default' }], environments });
    expect(check(batch(['development', 'production']), state)).not.toThrow();
    expect(check(batch(['development', 'staging']), state)).toThrow(mismatch);
    expect(check(batch(['staging']), { ...state, environments: {} })).toThrow(mismatch);
  });

  it('refuses completing a flag already completed, which Unleash ignores though its event says otherwise', () => {
    const complete = change('POST', `${P}/shop.banner/lifecycle/complete`, { status: 'discarded' });
    expect(check(complete, { ...state, lifecycle: { stage: 'completed', status: 'kept', enteredStageAt: '2026-01-01T00:00:00.000Z' } })).toThrow(mismatch);
    expect(check(complete, { ...state, lifecycle: { stage: 'live', enteredStageAt: '2026-01-01T00:00:00.000Z' } })).not.toThrow();
  });

  it('refuses reviving a flag not in the archive, which Unleash would switch off everywhere', () => {
    const revive = change('POST', '/api/admin/archive/revive/shop.banner');
    expect(check(revive, { exists: false })).toThrow(mismatch);
    expect(check(revive, { exists: true, project: 'default', name: 'shop.banner', archived: true, environments: {} })).not.toThrow();
  });

  it('refuses deleting a flag not in the archive, which Unleash answers 200 for without deleting anything', () => {
    const remove = change('DELETE', '/api/admin/archive/shop.banner');
    expect(check(remove, { exists: false })).toThrow(mismatch);
    expect(check(remove, { exists: true, project: 'default', name: 'shop.banner', archived: true, environments: {} })).not.toThrow();
  });

  it('refuses a delete or revive of several flags naming one not in the archive, which Unleash skips without a word', () => {
    const archived = { exists: true, project: 'default', name: 'old.a', archived: true, environments: {} };
    for (const verb of ['delete', 'revive']) {
      const batch = change('POST', `/api/admin/projects/default/${verb}`, { features: ['old.a', 'live.b'] });
      expect(check(batch, { flags: { 'old.a': archived, 'live.b': { exists: false } } })).toThrow(mismatch);
      expect(check(batch, { flags: { 'old.a': archived, 'live.b': { ...archived, name: 'live.b' } } })).not.toThrow();
    }
  });

  it('refuses an archive or stale of several flags naming one not live in the path\'s project, which Unleash skips or changes unseen', () => {
    const live = { exists: true, project: 'default', name: 'live.a', environments: {} };
    for (const batch of [change('POST', '/api/admin/projects/default/archive', { features: ['live.a', 'other.b'] }), change('POST', '/api/admin/projects/default/stale', { features: ['live.a', 'other.b'], stale: true })]) {
      // not there (or archived: read through the project, an archived flag is not there)
      expect(check(batch, { flags: { 'live.a': live, 'other.b': { exists: false } } })).toThrow(mismatch);
      expect(check(batch, { flags: { 'live.a': live } })).toThrow(mismatch);
      expect(check(batch, { flags: { 'live.a': live, 'other.b': { ...live, name: 'other.b', project: 'payments' } } })).toThrow(mismatch);
      expect(check(batch, { flags: { 'live.a': live, 'other.b': { ...live, name: 'other.b', archived: true } } })).toThrow(mismatch);
      expect(check(batch, { flags: { 'live.a': live, 'other.b': { ...live, name: 'other.b' } } })).not.toThrow();
    }
  });

  it("passes a strategy of the path's environment and refuses one of another", () => {
    for (const [method, body] of [['PUT', { name: 'default' }], ['PATCH', [{ op: 'replace', path: '/disabled', value: true }]], ['DELETE', undefined]] as const) {
      expect(check(change(method, `${P}/shop.banner/environments/development/strategies/dev-1`, body), onlyIn('development'))).not.toThrow();
      expect(check(change(method, `${P}/shop.banner/environments/development/strategies/prod-1`, body), onlyIn('development'))).toThrow(mismatch);
      expect(check(change(method, `${P}/shop.banner/environments/staging/strategies/dev-1`, body), { ...state, environments: {} })).toThrow(mismatch);
    }
  });

  it('refuses a strategy update or delete after which Unleash would switch the environment off', () => {
    const strategy = `${P}/shop.banner/environments/production/strategies/prod-1`;
    const last = onlyIn('production');
    const off = { ...last, environments: { production: { ...last.environments.production!, enabled: false } } };
    const withDisabledOther = { ...last, environments: { production: { enabled: true, strategies: [...last.environments.production!.strategies, { id: 'prod-2', name: 'default', parameters: {}, constraints: [], segments: [], disabled: true }] } } };
    for (const [method, body] of [
      ['DELETE', undefined],
      ['PUT', { name: 'default', disabled: true }],
      ['PATCH', [{ op: 'replace', path: '/disabled', value: true }]],
      ['PATCH', [{ op: 'copy', from: '/name', path: '/disabled' }]],
    ] as const) {
      expect(check(change(method, strategy, body), last), `${method} ${JSON.stringify(body)}`).toThrow(mismatch);
      expect(check(change(method, strategy, body), withDisabledOther), `${method} ${JSON.stringify(body)}`).toThrow(mismatch);
      // Already off: nothing more is switched off.
      expect(check(change(method, strategy, body), off)).not.toThrow();
    }
    // Still active afterwards: the environment stays on.
    expect(check(change('PUT', strategy, { name: 'default' }), last)).not.toThrow();
    expect(check(change('PATCH', strategy, [{ op: 'replace', path: '/disabled', value: false }]), last)).not.toThrow();
    // Another active strategy keeps it on.
    expect(check(change('DELETE', `${P}/shop.banner/environments/development/strategies/dev-1`), onlyIn('development'))).not.toThrow();
  });

  it('refuses a dependency on a new parent while the flag has another (Unleash would delete it)', () => {
    const add = change('POST', `${P}/shop.banner/dependencies`, { feature: 'parent.b' });
    const depending = (feature: string) => ({ ...state, environments: undefined, dependencies: [{ feature, enabled: true, variants: [] }] });
    expect(check(add, depending('parent.a'))).toThrow(expect.objectContaining({ code: 'ADAPT_TARGET_MISMATCH', details: expect.objectContaining({ parents: ['parent.a'] }) }));
    expect(check(add, depending('parent.b'))).not.toThrow();
    expect(check(add, { ...state, dependencies: [] })).not.toThrow();
  });

  it('refuses a strategy patch that would leave a flexible rollout without a rollout (Unleash stores 100%), a stickiness or a group', () => {
    const rollout = { id: 'prod-1', name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: 'g' }, constraints: [], segments: [] };
    const plain = { id: 'prod-1', name: 'userWithId', parameters: { userIds: 'a' }, constraints: [], segments: [] };
    const holding = (s: object) => ({ ...state, environments: { production: { enabled: false, strategies: [s] } } });
    const patch = (ops: unknown[]) => change('PATCH', `${P}/shop.banner/environments/production/strategies/prod-1`, ops);
    expect(check(patch([{ op: 'replace', path: '/parameters', value: { stickiness: 'default' } }]), holding(rollout))).toThrow(mismatch);
    expect(check(patch([{ op: 'replace', path: '/name', value: 'flexibleRollout' }]), holding(plain))).toThrow(mismatch);
    expect(check(patch([{ op: 'replace', path: '/parameters', value: { rollout: '20', stickiness: 'userId', groupId: 'g' } }]), holding(rollout))).not.toThrow();
    // Unleash fills an empty stickiness with the project's default and an empty group with the flag's name.
    expect(check(patch([{ op: 'replace', path: '/parameters', value: { rollout: '20', groupId: 'g' } }]), holding(rollout))).toThrow(/stickiness/);
    expect(check(patch([{ op: 'replace', path: '/parameters/stickiness', value: '' }]), holding(rollout))).toThrow(/stickiness/);
    expect(check(patch([{ op: 'replace', path: '/parameters/groupId', value: '' }]), holding(rollout))).toThrow(/group/);
    expect(check(patch([{ op: 'replace', path: '/parameters/stickiness', value: 'userId' }]), holding(rollout))).not.toThrow();
    // In order: a whole parameters object written after a member's value replaces it.
    expect(check(patch([{ op: 'replace', path: '/parameters/stickiness', value: 'userId' }, { op: 'replace', path: '/parameters', value: { rollout: '5' } }]), holding(rollout))).toThrow(mismatch);
    expect(check(patch([{ op: 'replace', path: '/parameters', value: { rollout: '5' } }, { op: 'add', path: '/parameters/stickiness', value: 'userId' }, { op: 'add', path: '/parameters/groupId', value: 'g2' }]), holding(rollout))).not.toThrow();
    expect(check(patch([{ op: 'replace', path: '/name', value: 'flexibleRollout' }, { op: 'replace', path: '/parameters', value: { rollout: '5' } }]), holding(plain))).toThrow(mismatch);
    expect(check(patch([{ op: 'replace', path: '/title', value: 't' }]), holding(rollout))).not.toThrow();
    expect(check(patch([{ op: 'replace', path: '/parameters', value: { userIds: 'b' } }]), holding(plain))).not.toThrow();
  });

  it('refuses an environment variants patch the state read could not apply, or that leaves a text weight', () => {
    const patch = change('PATCH', `${P}/shop.banner/environments/production/variants`, [{ op: 'remove', path: '/0' }]);
    const reading = (storedAfterPatch: unknown) => ({ ...state, environments: { production: { enabled: true, strategies: [], variants: [], storedAfterPatch } } });
    expect(check(patch, reading(null))).toThrow(mismatch);
    expect(check(patch, reading([]))).not.toThrow();
  });

  it('refuses a new sort order naming a strategy of another environment or flag', () => {
    const order = (ids: string[]) => change('POST', `${P}/shop.banner/environments/development/strategies/set-sort-order`, ids.map((id, i) => ({ id, sortOrder: i })));
    expect(check(order(['dev-1']), onlyIn('development'))).not.toThrow();
    expect(check(order(['dev-1', 'prod-1']), onlyIn('development'))).toThrow(mismatch);
  });

  it("passes the flag's own link and refuses another's", () => {
    expect(check(change('DELETE', `${P}/shop.banner/link/link-1`), state)).not.toThrow();
    expect(check(change('PUT', `${P}/shop.banner/link/link-1`, { url: 'https://b.example.test' }), state)).not.toThrow();
    expect(check(change('DELETE', `${P}/shop.banner/link/link-2`), state)).toThrow(mismatch);
    expect(check(change('DELETE', `${P}/shop.banner/link/link-1`), { ...state, links: null })).toThrow(mismatch);
  });

  it("refuses a change to a flag the path's project does not hold, but not a create", () => {
    expect(check(change('POST', `${P}/shop.banner/link`, { url: 'https://x.example.test' }), { exists: false })).toThrow(mismatch);
    expect(check(change('POST', `${P}/shop.banner/lifecycle/complete`, { status: 'kept' }), { exists: false })).toThrow(mismatch);
    expect(check(change('POST', `${P}/shop.banner/environments/production/on`), { ...state, project: 'other' })).toThrow(mismatch);
    expect(check(change('POST', P, { name: 'shop.new' }), { exists: false })).not.toThrow();
    // Archived flags and tags are read without the project; Unleash checks those itself.
    expect(check(change('POST', '/api/admin/archive/revive/shop.banner'), { exists: true, project: 'other', name: 'shop.banner', archived: true })).not.toThrow();
  });

  it("refuses a clone whose source the path's project does not hold (Unleash finds it by name anywhere)", () => {
    const clone = change('POST', `${P}/shop.banner/clone`, { name: 'shop.copy' });
    expect(check(clone, { exists: false, cloneOf: { exists: false } })).toThrow(mismatch);
    expect(check(clone, { exists: false, cloneOf: { ...state, project: 'other' } })).toThrow(mismatch);
    expect(check(clone, { exists: false })).toThrow(mismatch);
    expect(check(clone, { exists: false, cloneOf: state })).not.toThrow();
  });

  it('leaves states of other shapes (segments, batches) to their own checks', () => {
    expect(check(change('DELETE', '/api/admin/segments/7'), { exists: true, strategies: [] })).not.toThrow();
    expect(check(change('POST', '/api/admin/projects/default/bulk_features/environments/development/on', { features: ['a.b'] }), { flags: {} })).not.toThrow();
  });

  it('refuses adding a tag of a type Unleash does not have: it would add the others, then fail', () => {
    const tags = { exists: true, name: 'checkout', tags: [], tagTypes: ['simple'] };
    const update = change('PUT', '/api/admin/features/checkout/tags', { addedTags: [{ type: 'simple', value: 'aa' }, { type: 'nosuch', value: 'bb' }], removedTags: [] });
    expect(check(update, tags)).toThrow(mismatch);
    expect(check(change('POST', '/api/admin/features/checkout/tags', { type: 'nosuch', value: 'bb' }), tags)).toThrow(mismatch);
    expect(check(change('POST', '/api/admin/features/checkout/tags', { type: 'simple', value: 'bb' }), tags)).not.toThrow();
    expect(check(change('PUT', '/api/admin/features/checkout/tags', { addedTags: [], removedTags: [{ type: 'nosuch', value: 'bb' }] }), tags)).not.toThrow();
    // A flag that is not there: Unleash answers 404 and adds nothing, so the tag types do not matter.
    expect(check(update, { exists: false })).not.toThrow();
  });
});
