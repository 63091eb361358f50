import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unleashAdmin, unleashEnabledIn, type UnleashServer } from '../support/unleash.js';
import { auditEntries, startUnleashSidecar } from '../support/unleash-sidecar.js';
import type { TestFlaggate } from '../support/flaggate.js';

let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let release: string;
let qa: string;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';

const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);
const enabledIn = (feature: string, environment: string) => unleashEnabledIn(unleash!, feature, environment);

async function viaFlaggate(method: string, path: string, token: string, headers: Record<string, string> = {}, body?: unknown) {
  const res = await fetch(app!.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    json = { text };
  }
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json };
}

const ledgerEntries = () => auditEntries(app!, auditor);

beforeAll(async () => {
  ({ unleash, app, stop } = await startUnleashSidecar());
  [release, qa, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('quinn', 'qa'), app.token('ada', 'auditor')]);
  await direct('POST', FEATURES, { name: 'checkout.v2', type: 'release' });
  await direct('POST', `${FEATURES}/checkout.v2/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'checkout.v2' } });
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('flaggate in front of a real Unleash', () => {
  it('an allowed change reaches Unleash and is recorded with its previous state and outcome', async () => {
    expect(await enabledIn('checkout.v2', 'production')).toBe(false);
    const res = await viaFlaggate('POST', `${FEATURES}/checkout.v2/environments/production/on`, release, { 'x-flaggate-reason': 'launch', 'x-flaggate-ticket': 'CHG-7' });
    expect(res.status).toBe(200);
    expect(await enabledIn('checkout.v2', 'production')).toBe(true);
    const mine = (await ledgerEntries()).filter((e) => e.decision_id === res.decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[0]).toMatchObject({
      platform: 'unleash',
      action: 'flag.enable',
      project: 'default',
      flag_key: 'checkout.v2',
      environment: 'production',
      reason: 'launch',
      decision: { allow: true },
    });
    expect(JSON.stringify(mine[0]!.previous_state)).toContain('"enabled":false');
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
  });

  it('a denied change does not reach Unleash, and is recorded', async () => {
    const res = await viaFlaggate('POST', `${FEATURES}/checkout.v2/environments/production/off`, qa, { 'x-flaggate-reason': 'try' });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'POLICY_DENIED' });
    expect(await enabledIn('checkout.v2', 'production')).toBe(true);
    const mine = (await ledgerEntries()).filter((e) => e.decision_id === res.decisionId);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ entry_type: 'change.decision', actor: { id: 'quinn' }, decision: { allow: false, error_code: 'POLICY_DENIED' } });
  });

  it('creates a feature and a strategy through flaggate with the sidecar credential only', async () => {
    const created = await viaFlaggate('POST', FEATURES, release, { 'x-flaggate-reason': 'new flag', 'x-flaggate-ticket': 'CHG-8' }, { name: 'search.v3', type: 'experiment' });
    expect(created.status).toBeLessThan(300);
    const strategy = await viaFlaggate('POST', `${FEATURES}/search.v3/environments/development/strategies`, release, {}, {
      name: 'flexibleRollout',
      parameters: { rollout: '25', stickiness: 'default', groupId: 'search.v3' },
    });
    expect(strategy.status).toBeLessThan(300);
    const state = await direct('GET', `${FEATURES}/search.v3`);
    const dev = (state.environments as Array<{ name: string; strategies: Array<{ parameters: { rollout: string } }> }>).find((e) => e.name === 'development');
    expect(dev!.strategies.map((s) => s.parameters.rollout)).toEqual(['25']);
    const entry = (await ledgerEntries()).find((e) => e.decision_id === strategy.decisionId && e.entry_type === 'change.decision');
    expect(entry).toMatchObject({ action: 'strategy.create', environment: 'development' });
    expect(JSON.stringify(entry!.new_state)).toContain('25');
  });

  it('passes reads through after a read check', async () => {
    const res = await viaFlaggate('GET', `${FEATURES}/checkout.v2`, qa);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: 'checkout.v2' });
  });

  it('keeps administrative reads (API tokens, users) away from flag readers', async () => {
    for (const path of ['/api/admin/api-tokens', '/api/admin/user-admin']) {
      const res = await viaFlaggate('GET', path, qa);
      expect(res.status, path).toBe(404);
      expect(res.json).toMatchObject({ code: 'ADAPT_ROUTE_UNKNOWN' });
      expect(JSON.stringify(res.json)).not.toContain(unleash!.adminToken.split('.')[1]!);
    }
  });

  it('refuses and records a write no route recognizes, forwarding nothing', async () => {
    // A new tag type is refused by design (the tag catalogue is instance administration; see docs/unleash.md).
    const res = await viaFlaggate('POST', '/api/admin/tag-types', release, {}, { name: 'sneaky-type' });
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED' });
    expect(((await direct('GET', '/api/admin/tag-types')) as unknown as { tagTypes: Array<{ name: string }> }).tagTypes.map((t) => t.name)).not.toContain('sneaky-type');
    expect((await ledgerEntries()).find((e) => e.decision_id === res.decisionId)).toMatchObject({ decision: { error_code: 'ADAPT_WRITE_UNRECOGNIZED' } });
  });

  it('verify says OK over the whole chain', async () => {
    const res = await fetch(`${app!.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });
});

/**
 * Unleash finds a strategy and a link by id, and for links and lifecycle the flag by name, checking
 * less than the path says: a production strategy under a development path, another flag's link and
 * a flag outside the path's project are each refused before the decision, and Unleash is unchanged.
 */
describe('ids that name objects elsewhere', () => {
  const why = { 'x-flaggate-reason': 'probe', 'x-flaggate-ticket': 'T-1' };
  let admin: string;
  let developmentId: string;
  let productionId: string;
  let otherLinkId: string;
  const strategyOf = async (env: string, id: string) => {
    const flag = await direct('GET', `${FEATURES}/shop.banner`);
    return (flag.environments as Array<{ name: string; strategies: Array<{ id: string; parameters: Record<string, string> }> }>)
      .find((e) => e.name === env)!.strategies.find((x) => x.id === id);
  };
  const linksOf = async (flag: string) => ((await direct('GET', `${FEATURES}/${flag}`)).links as Array<{ id: string; url: string }>);
  const refusal = async (res: { decisionId: string | null }) => (await ledgerEntries()).filter((e) => e.decision_id === res.decisionId);

  beforeAll(async () => {
    admin = await app!.token('alice', 'flag_admin');
    await direct('POST', FEATURES, { name: 'shop.banner', type: 'release' });
    const rollout = (n: string) => ({ name: 'flexibleRollout', parameters: { rollout: n, stickiness: 'default', groupId: 'shop.banner' } });
    developmentId = String((await direct('POST', `${FEATURES}/shop.banner/environments/development/strategies`, rollout('50'))).id);
    productionId = String((await direct('POST', `${FEATURES}/shop.banner/environments/production/strategies`, rollout('5'))).id);
    await direct('POST', FEATURES, { name: 'payments.core', type: 'release' });
    await direct('POST', `${FEATURES}/payments.core/link`, { url: 'https://runbooks.example.test/payments', title: 'runbook' });
    otherLinkId = (await linksOf('payments.core'))[0]!.id;
  });

  it('a production strategy named under a development path is refused; production keeps its rollout', async () => {
    const body = { name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'shop.banner' } };
    const path = `${FEATURES}/shop.banner/environments/development/strategies/${productionId}`;
    for (const [method, sent] of [['PUT', body], ['PATCH', [{ op: 'replace', path: '/parameters/rollout', value: '100' }]], ['DELETE', undefined]] as const) {
      const res = await viaFlaggate(method, path, admin, why, sent);
      expect(res.status, method).toBe(409);
      expect(res.json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
      expect(await refusal(res)).toMatchObject([{ entry_type: 'change.decision', environment: 'development', decision: { allow: false, error_code: 'ADAPT_TARGET_MISMATCH' } }]);
    }
    expect(await strategyOf('production', productionId)).toMatchObject({ parameters: { rollout: '5' } });
    // The same change to development's own strategy goes through.
    const own = await viaFlaggate('PUT', `${FEATURES}/shop.banner/environments/development/strategies/${developmentId}`, admin, why, body);
    expect(own.status).toBe(200);
    expect(await strategyOf('development', developmentId)).toMatchObject({ parameters: { rollout: '100' } });
  });

  it("another flag's link named under this flag is refused; that flag keeps its link", async () => {
    const put = await viaFlaggate('PUT', `${FEATURES}/shop.banner/link/${otherLinkId}`, admin, why, { url: 'https://evil.example.test/x', title: 'dash' });
    const del = await viaFlaggate('DELETE', `${FEATURES}/shop.banner/link/${otherLinkId}`, admin, why);
    for (const res of [put, del]) {
      expect(res.status).toBe(409);
      expect(res.json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    }
    expect(await linksOf('payments.core')).toMatchObject([{ id: otherLinkId, url: 'https://runbooks.example.test/payments' }]);
    expect(await linksOf('shop.banner')).toEqual([]);
  });

  it("a flag outside the path's project is refused, though Unleash would find it by name", async () => {
    const link = await viaFlaggate('POST', '/api/admin/projects/other/features/shop.banner/link', admin, why, { url: 'https://x.example.test', title: 't' });
    expect(link.status).toBe(409);
    expect(link.json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    expect(await linksOf('shop.banner')).toEqual([]);
  });

  it("a clone records the flag it copies, strategies included, and is refused when the path's project does not hold it", async () => {
    const elsewhere = await viaFlaggate('POST', '/api/admin/projects/other/features/shop.banner/clone', admin, why, { name: 'shop.copy' });
    expect(elsewhere.status).toBe(409);
    expect(elsewhere.json).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    const copied = await viaFlaggate('POST', `${FEATURES}/shop.banner/clone`, admin, why, { name: 'shop.copy' });
    expect(copied.status).toBeLessThan(300);
    const [decision] = await refusal(copied);
    expect(decision).toMatchObject({ action: 'flag.create', flag_key: 'shop.copy', previous_state: { exists: false, cloneOf: { name: 'shop.banner', environments: { production: { strategies: [{ id: productionId }] } } } } });
  });

  it("a clone records what Unleash creates: disabled, the source's strategies whole, its parents, and the clone's name as groupId", async () => {
    await direct('POST', FEATURES, { name: 'clone.parent', type: 'release' });
    await direct('POST', FEATURES, { name: 'clone.source', type: 'operational', description: 'hello', impressionData: true });
    const variant = { name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value: 'x' } };
    const strategy = { name: 'flexibleRollout', title: 'T', sortOrder: 3, parameters: { rollout: '10', stickiness: 'default', groupId: 'clone.source' }, variants: [variant] };
    await direct('POST', `${FEATURES}/clone.source/environments/production/strategies`, strategy);
    await direct('POST', `${FEATURES}/clone.source/environments/production/on`);
    await direct('POST', `${FEATURES}/clone.source/dependencies`, { feature: 'clone.parent', enabled: true });
    type Strategy = { parameters: unknown; variants: unknown; sortOrder: unknown; title: unknown; constraints: unknown; segments: unknown };
    type Flag = { dependencies: unknown; impressionData: unknown; description: unknown; type: unknown; environments: Record<string, { enabled: boolean; strategies: Strategy[] }> };
    const evaluated = (s: Strategy) => ({ parameters: s.parameters, variants: s.variants, sortOrder: s.sortOrder, title: s.title, constraints: s.constraints, segments: s.segments });
    const clones = [['clone.regrouped', {}], ['clone.samegroup', { replaceGroupId: false }]] as const;
    for (const [name, options] of clones) {
      const res = await viaFlaggate('POST', `${FEATURES}/clone.source/clone`, admin, why, { name, ...options });
      expect(res.status, name).toBeLessThan(300);
      const [decision] = await refusal(res);
      const recorded = (decision!.previous_state as { cloneOf: Flag }).cloneOf;
      const created = await direct('GET', `${FEATURES}/${name}`);
      const createdEnvs = created.environments as Array<{ name: string; enabled: boolean; strategies: Strategy[] }>;
      // What the ledger says the clone starts from is what Unleash stored for it.
      for (const key of ['dependencies', 'impressionData', 'description', 'type'] as const) expect(recorded[key], `${name} ${key}`).toEqual(created[key]);
      expect(recorded.dependencies, name).toEqual([expect.objectContaining({ feature: 'clone.parent' })]);
      for (const env of createdEnvs) {
        expect(recorded.environments[env.name]!.enabled, `${name} ${env.name}`).toBe(env.enabled);
        expect(recorded.environments[env.name]!.strategies.map(evaluated), `${name} ${env.name}`).toEqual(env.strategies.map(evaluated));
      }
      const production = createdEnvs.find((e) => e.name === 'production')!;
      expect(production.enabled).toBe(false);
      expect(production.strategies[0]).toMatchObject({ title: 'T', variants: [expect.objectContaining({ name: 'blue' })], parameters: { groupId: 'replaceGroupId' in options ? 'clone.source' : name } });
    }
  });

  it("a clone of flexible rollouts stored without their defaults (older rows) records the defaults Unleash gives the copies", async () => {
    await direct('POST', FEATURES, { name: 'legacy.source', type: 'release' });
    for (let i = 0; i < 3; i++) await direct('POST', `${FEATURES}/legacy.source/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'default', groupId: 'g' } });
    const db = new pg.Client({ connectionString: unleash!.databaseUrl });
    await db.connect();
    try {
      // Rows as an older Unleash left them: no rollout, no stickiness, an empty or missing group.
      const stored = [{ stickiness: 'sessionId', groupId: '' }, { rollout: '30' }, { rollout: '40', groupId: 'kept' }];
      const { rows } = await db.query<{ id: string }>("SELECT id FROM feature_strategies WHERE feature_name = 'legacy.source' ORDER BY sort_order, created_at");
      for (const [i, row] of rows.entries()) await db.query('UPDATE feature_strategies SET parameters = $1::jsonb WHERE id = $2', [JSON.stringify(stored[i]), row.id]);
      await db.query("INSERT INTO project_settings (project, default_stickiness) VALUES ('default', 'userId') ON CONFLICT (project) DO UPDATE SET default_stickiness = 'userId'");
      type Strategy = { parameters: Record<string, unknown> };
      for (const [name, options] of [['legacy.regrouped', {}], ['legacy.samegroup', { replaceGroupId: false }]] as const) {
        const res = await viaFlaggate('POST', `${FEATURES}/legacy.source/clone`, admin, why, { name, ...options });
        expect(res.status, name).toBeLessThan(300);
        const [decision] = await refusal(res);
        const recorded = (decision!.previous_state as { cloneOf: { environments: Record<string, { strategies: Strategy[] }> } }).cloneOf;
        const created = (await direct('GET', `${FEATURES}/${name}`)).environments as Array<{ name: string; strategies: Strategy[] }>;
        const createdParameters = created.find((e) => e.name === 'production')!.strategies.map((s) => s.parameters);
        expect(recorded.environments.production!.strategies.map((s) => s.parameters), name).toEqual(createdParameters);
        // The defaults are there: rollout 100, the project's stickiness, the clone's name as the empty or missing group.
        expect(createdParameters, name).toEqual([
          { rollout: '100', stickiness: 'sessionId', groupId: name },
          { rollout: '30', stickiness: 'userId', groupId: name },
          { rollout: '40', stickiness: 'userId', groupId: 'replaceGroupId' in options ? 'kept' : name },
        ]);
      }
    } finally {
      await db.query("UPDATE project_settings SET default_stickiness = NULL WHERE project = 'default'");
      await db.end();
    }
  });

  it("environment variants are read as they are: a variants change's previous state, and a clone's copy of them", async () => {
    await direct('POST', FEATURES, { name: 'variants.source', type: 'release' });
    const blue = { name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default' };
    // variants-batch takes environment variants on a flag that has none (the environment's own route refuses them as legacy).
    await direct('PUT', `${FEATURES}/variants.source/variants-batch`, { variants: [blue], environments: ['development'] });
    const variantsOf = async (flag: string) =>
      ((await direct('GET', `${FEATURES}/${flag}?variantEnvironments=true`)).environments as Array<{ name: string; variants: unknown }>).find((e) => e.name === 'development')!.variants;
    expect(await variantsOf('variants.source')).toEqual([expect.objectContaining({ name: 'blue' })]);
    const cloned = await viaFlaggate('POST', `${FEATURES}/variants.source/clone`, admin, why, { name: 'variants.copy' });
    expect(cloned.status).toBeLessThan(300);
    const cloneOf = ((await refusal(cloned))[0]!.previous_state as { cloneOf: { environments: Record<string, { variants: unknown }> } }).cloneOf;
    expect(cloneOf.environments.development!.variants).toEqual(await variantsOf('variants.copy'));
    const red = { ...blue, name: 'red' };
    const changed = await viaFlaggate('PUT', `${FEATURES}/variants.source/environments/development/variants`, admin, why, [red]);
    expect(changed.status).toBe(200);
    const [decision] = await refusal(changed);
    expect(decision).toMatchObject({ action: 'variants.update', previous_state: { environments: { development: { variants: [expect.objectContaining({ name: 'blue' })] } } } });
  });

  it('a JSON Patch that copies another member onto the description alters every environment: denied to a development-only role', async () => {
    await direct('POST', FEATURES, { name: 'ks.flag', type: 'kill-switch' });
    const res = await viaFlaggate('PATCH', `${FEATURES}/ks.flag`, admin, why, [{ op: 'copy', from: '/name', path: '/description' }]);
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'POLICY_DENIED' });
    expect((await direct('GET', `${FEATURES}/ks.flag`)).type).toBe('kill-switch');
    // Moving the type away would reset it to release: refused whoever sends it.
    const moved = await viaFlaggate('PATCH', `${FEATURES}/ks.flag`, admin, why, [{ op: 'move', from: '/type', path: '/description' }]);
    expect(moved.status).toBe(400);
    expect(moved.json).toMatchObject({ code: 'ADAPT_BODY_MALFORMED' });
    expect((await direct('GET', `${FEATURES}/ks.flag`)).type).toBe('kill-switch');
  });
});

/**
 * A child flag is enabled only where its parent is: turning the parent off in production turns a
 * critical child off there too, so the change is judged as a change of the child as well.
 */
describe('changes that reach dependent flags', () => {
  const why = { 'x-flaggate-reason': 'probe', 'x-flaggate-ticket': 'T-2' };
  const playground = async (flag: string) => {
    const res = (await direct('POST', '/api/admin/playground', { environment: 'production', projects: '*', context: { appName: 'probe' } })) as { features: Array<{ name: string; isEnabled: boolean }> };
    return res.features.find((f) => f.name === flag)?.isEnabled;
  };

  beforeAll(async () => {
    for (const name of ['dep.parent', 'payments.child']) {
      await direct('POST', FEATURES, { name, type: 'release' });
      await direct('POST', `${FEATURES}/${name}/environments/production/strategies`, { name: 'default', parameters: {} });
      await direct('POST', `${FEATURES}/${name}/environments/production/on`);
    }
    await direct('POST', `${FEATURES}/payments.child/dependencies`, { feature: 'dep.parent', enabled: true });
  });

  it('turning a parent off where its child is critical is held for approval, and the child keeps serving', async () => {
    expect(await playground('payments.child')).toBe(true);
    const res = await viaFlaggate('POST', `${FEATURES}/dep.parent/environments/production/off`, release, why);
    expect(res.status).toBe(202);
    expect(await enabledIn('dep.parent', 'production')).toBe(true);
    expect(await playground('payments.child')).toBe(true);
    const [requested] = (await ledgerEntries()).filter((e) => e.decision_id === res.decisionId);
    expect(requested).toMatchObject({ flag_key: 'dep.parent', previous_state: { children: ['payments.child'] } });
    // Approved by a second person, it is re-derived with its children and applied: the child goes off with it.
    const sam = await app!.token('sam', 'release_engineer');
    const approved = await fetch(String(res.json.approveUrl), { method: 'POST', headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
    expect(await approved.json()).toMatchObject({ status: 'applied' });
    expect(await enabledIn('dep.parent', 'production')).toBe(false);
    expect(await playground('payments.child')).toBe(false);
  });

  it('an archive records the dependencies on its parents that Unleash deletes with it: a revived flag has none', async () => {
    for (const name of ['arch.parent', 'arch.one', 'arch.two']) await direct('POST', FEATURES, { name, type: 'release' });
    for (const child of ['arch.one', 'arch.two']) await direct('POST', `${FEATURES}/${child}/dependencies`, { feature: 'arch.parent', enabled: true });
    const dependsOnParent = [expect.objectContaining({ feature: 'arch.parent', enabled: true })];
    const single = await viaFlaggate('DELETE', `${FEATURES}/arch.one`, release, why);
    const batch = await viaFlaggate('POST', '/api/admin/projects/default/archive', release, why, { features: ['arch.two'] });
    expect([single.status, batch.status]).toEqual([202, 202]); // Unleash answers an archive with 202
    const entries = await ledgerEntries();
    const decided = (r: { decisionId: string | null }) => entries.find((e) => e.decision_id === r.decisionId && e.entry_type === 'change.decision');
    expect(decided(single)).toMatchObject({ action: 'flag.archive', previous_state: { dependencies: dependsOnParent }, new_state: { archived: true, dependencies: [] } });
    expect(decided(batch)).toMatchObject({ action: 'flag.archive', previous_state: { flags: { 'arch.two': { dependencies: dependsOnParent } } }, new_state: { archived: true, dependencies: [] } });
    // What the entries say of the dependencies is what Unleash did: revived, neither flag has its parent.
    for (const child of ['arch.one', 'arch.two']) {
      await direct('POST', `/api/admin/archive/revive/${child}`);
      expect(((await direct('GET', `${FEATURES}/${child}`)) as { dependencies: unknown[] }).dependencies, child).toEqual([]);
    }
  });

  it("a segment used by the parent's production strategy reaches the child too: changing it is held", async () => {
    const segment = (await direct('POST', '/api/admin/segments', { name: 'beta-users', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'] }] })) as { id: number };
    await direct('POST', `${FEATURES}/dep.parent/environments/production/strategies`, { name: 'default', parameters: {}, segments: [segment.id] });
    const res = await viaFlaggate('PUT', `/api/admin/segments/${segment.id}`, release, why, { name: 'beta-users', constraints: [{ contextName: 'userId', operator: 'NOT_IN', values: ['nobody'] }] });
    expect(res.status).toBe(202);
    const [requested] = (await ledgerEntries()).filter((e) => e.decision_id === res.decisionId);
    expect(requested).toMatchObject({ action: 'segment.update', previous_state: { children: { 'dep.parent': ['payments.child'] } } });
  });
});

describe('what Unleash stores, as recorded', () => {
  const why = { 'x-flaggate-reason': 'probe', 'x-flaggate-ticket': 'T-3' };

  it("a flag create or update is recorded as Unleash stores it: what its validator drops is left out", async () => {
    type Stored = Record<string, unknown> & { environments: Array<{ enabled: boolean; strategies: unknown[] }> };
    const read = async () => (await direct('GET', `${FEATURES}/stored.flag`)) as Stored;
    const decided = async (res: { decisionId: string | null }) => (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    const recordedAsStored = (entry: Record<string, unknown> | undefined, stored: Stored) => {
      const state = entry?.new_state as Record<string, unknown>;
      expect(Object.fromEntries(Object.keys(state).map((k) => [k, stored[k]])), JSON.stringify(state)).toEqual(state);
    };
    const created = await viaFlaggate('POST', FEATURES, release, why, { name: 'stored.flag', enabled: true, strategies: [{ name: 'default' }], project: 'other', description: '' });
    expect(created.status).toBe(201);
    let stored = await read();
    // Unleash created it switched off, without strategies, in the path's project, without a description.
    expect(stored).toMatchObject({ project: 'default', description: null });
    expect(stored.environments.every((e) => !e.enabled && e.strategies.length === 0)).toBe(true);
    recordedAsStored(await decided(created), stored);
    expect((await decided(created))?.new_state).not.toHaveProperty('enabled');
    const updated = await viaFlaggate('PUT', `${FEATURES}/stored.flag`, release, why, { type: 'kill-switch', enabled: true, project: 'other', variants: [{ name: 'a', weight: 1000, weightType: 'variable', stickiness: 'default' }] });
    expect(updated.status).toBe(200);
    stored = await read();
    expect(stored).toMatchObject({ type: 'kill-switch', project: 'default' });
    recordedAsStored(await decided(updated), stored);
    expect(Object.keys((await decided(updated))?.new_state as object).sort()).toEqual(['description', 'impressionData', 'name', 'stale', 'type']);
  });

  it('a strategy update without a name is refused: Unleash would keep a flexible rollout without its stickiness', async () => {
    await direct('POST', FEATURES, { name: 'nameless.update', type: 'release' });
    const strategy = (await direct('POST', `${FEATURES}/nameless.update/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '25', stickiness: 'default', groupId: 'g' } })) as { id: string };
    const res = await viaFlaggate('PUT', `${FEATURES}/nameless.update/environments/production/strategies/${strategy.id}`, release, why, { parameters: { rollout: '50' } });
    expect(res).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    const kept = (await direct('GET', `${FEATURES}/nameless.update/environments/production/strategies/${strategy.id}`)) as { parameters: Record<string, string> };
    expect(kept.parameters).toEqual({ rollout: '25', stickiness: 'default', groupId: 'g' });
  });

  it('a segment or context field create is recorded as Unleash stores it: its defaults in, what it drops out', async () => {
    const decided = async (res: { decisionId: string | null }) => (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    const segment = await viaFlaggate('POST', '/api/admin/segments', release, why, { name: 'stored.segment', project: '', createdBy: 'someone-else', constraints: [{ contextName: 'appName', operator: 'NUM_EQ', value: '5' }] });
    expect(segment.status).toBe(201);
    const storedSegment = (await direct('GET', `/api/admin/segments/${String(segment.json.id)}`)) as Record<string, unknown>;
    const segmentState = (await decided(segment))?.new_state as Record<string, unknown>;
    expect(Object.fromEntries(Object.keys(segmentState).map((k) => [k, storedSegment[k] ?? null]))).toEqual(segmentState);
    expect(storedSegment.createdBy).not.toBe('someone-else');
    const field = await viaFlaggate('POST', '/api/admin/context', release, why, { name: 'stored-field', sortOrder: 4, createdAt: '2001-01-01T00:00:00.000Z' });
    expect(field.status).toBe(201);
    const { createdAt: _created, ...storedField } = (await direct('GET', '/api/admin/context/stored-field')) as Record<string, unknown>;
    expect((await decided(field))?.new_state).toEqual(storedField);
  });

  it('a tag update is refused when one of its types does not exist, and recorded as Unleash applies it', async () => {
    await direct('POST', FEATURES, { name: 'tagged.flag', type: 'release' });
    await direct('POST', '/api/admin/features/tagged.flag/tags', { type: 'simple', value: 'old' });
    const tagsNow = async () => ((await direct('GET', '/api/admin/features/tagged.flag/tags')) as { tags: Array<{ type: string; value: string }> }).tags.map((t) => `${t.type}:${t.value}`).sort();
    // Unleash would add simple:new1, fail on the unknown type, and never remove simple:old.
    const refused = await viaFlaggate('PUT', '/api/admin/features/tagged.flag/tags', release, why, { addedTags: [{ type: 'simple', value: 'new1' }, { type: 'nosuchtype', value: 'x1' }], removedTags: [{ type: 'simple', value: 'old' }] });
    expect(refused).toMatchObject({ status: 409, json: { code: 'ADAPT_TARGET_MISMATCH' } });
    expect(await tagsNow()).toEqual(['simple:old']);
    // A tag both added and removed would join the instance-wide catalogue and leave the flag without it.
    const catalogue = async () => ((await direct('GET', '/api/admin/tags/simple')) as { tags: Array<{ value: string }> }).tags.map((t) => t.value);
    const both = await viaFlaggate('PUT', '/api/admin/features/tagged.flag/tags', release, why, { addedTags: [{ type: 'simple', value: 'two' }], removedTags: [{ type: 'simple', value: 'two' }] });
    expect(both).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect(await catalogue()).not.toContain('two');
    await direct('PUT', '/api/admin/features/tagged.flag/tags', { addedTags: [{ type: 'simple', value: 'two' }], removedTags: [{ type: 'simple', value: 'two' }] });
    expect(await catalogue()).toContain('two');
    expect(await tagsNow()).toEqual(['simple:old']);
    const twice = await viaFlaggate('PUT', '/api/admin/features/tagged.flag/tags', release, why, { addedTags: [{ type: 'simple', value: 'three' }, { type: 'simple', value: 'three' }], removedTags: [{ type: 'simple', value: 'old' }] });
    expect(twice.status).toBe(200);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === twice.decisionId && e.entry_type === 'change.decision');
    expect(decision?.new_state).toEqual({ added: [{ type: 'simple', value: 'three' }], removed: [{ type: 'simple', value: 'old' }] });
    expect(await tagsNow()).toEqual(['simple:three']);
  });

  it('a strategy created without a sort order records the one Unleash gives it: after the last', async () => {
    await direct('POST', FEATURES, { name: 'ordered.flag', type: 'release' });
    const path = `${FEATURES}/ordered.flag/environments/production/strategies`;
    for (const sortOrder of [0, 5]) await direct('POST', path, { name: 'default', parameters: {}, sortOrder });
    const res = await viaFlaggate('POST', path, release, why, { name: 'default', parameters: {} });
    expect(res.status).toBe(200);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    expect(decision?.previous_state).toMatchObject({ environments: { production: { nextSortOrder: 6 } } });
    const stored = (await direct('GET', `${path}/${String(res.json.id)}`)) as { sortOrder: number };
    expect(stored.sortOrder).toBe(6);
  });

  it("a tag added records whether the tag catalogue held it: Unleash creates it there otherwise", async () => {
    await direct('POST', FEATURES, { name: 'catalogue.flag', type: 'release' });
    const catalogue = async () => ((await direct('GET', '/api/admin/tags/simple')) as { tags: Array<{ value: string }> }).tags.map((t) => t.value);
    expect(await catalogue()).not.toContain('brand-new');
    const res = await viaFlaggate('POST', '/api/admin/features/catalogue.flag/tags', release, why, { type: 'simple', value: 'brand-new' });
    expect(res.status).toBe(201);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    expect(decision?.previous_state).toMatchObject({ catalogued: [] });
    expect(await catalogue()).toContain('brand-new');
    const again = await viaFlaggate('PUT', '/api/admin/features/catalogue.flag/tags', release, why, { addedTags: [{ type: 'simple', value: 'brand-new' }], removedTags: [] });
    expect(again.status).toBe(200);
    const second = (await ledgerEntries()).find((e) => e.decision_id === again.decisionId && e.entry_type === 'change.decision');
    expect(second?.previous_state).toMatchObject({ catalogued: [{ type: 'simple', value: 'brand-new' }] });
  });

  it('two flags tagged at once with a tag the catalogue lacks: one entry records creating it, the other finds it', async () => {
    await direct('POST', FEATURES, { name: 'race.one', type: 'release' });
    await direct('POST', FEATURES, { name: 'race.two', type: 'release' });
    const results = await Promise.all(['race.one', 'race.two'].map((f) => viaFlaggate('POST', `/api/admin/features/${f}/tags`, release, why, { type: 'simple', value: 'raced-tag' })));
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    const entries = await ledgerEntries();
    const catalogued = results.map((r) => (entries.find((e) => e.decision_id === r.decisionId && e.entry_type === 'change.decision')?.previous_state as { catalogued: unknown[] }).catalogued.length);
    expect(catalogued.sort()).toEqual([0, 1]);
  });

  it('a create naming its creator or a patched constraint without values is refused; a description patched to "" is recorded as none', async () => {
    const creator = await viaFlaggate('POST', FEATURES, release, why, { name: 'forged.creator', createdByUserId: 1 });
    expect(creator).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    await expect(direct('GET', `${FEATURES}/forged.creator`)).rejects.toThrow();
    await direct('POST', FEATURES, { name: 'patched.flag', type: 'release', description: 'kept' });
    // Unleash's UI clears a description by patching it to "", which Unleash stores as none: recorded so.
    const empty = await viaFlaggate('PATCH', `${FEATURES}/patched.flag`, release, why, [{ op: 'replace', path: '/description', value: '' }]);
    expect(empty.status).toBe(200);
    expect((await direct('GET', `${FEATURES}/patched.flag`)).description).toBeNull();
    const cleared = (await ledgerEntries()).find((e) => e.decision_id === empty.decisionId && e.entry_type === 'change.decision');
    expect(cleared?.new_state).toEqual({ patch: [{ op: 'replace', path: '/description', value: null }] });
    const strategies = `${FEATURES}/patched.flag/environments/development/strategies`;
    const strategy = (await direct('POST', strategies, { name: 'default', parameters: {} })) as { id: string };
    const read = async () => (await direct('GET', `${strategies}/${strategy.id}`)) as { constraints: unknown[] };
    const bare = { contextName: 'userId', operator: 'NUM_EQ', value: '5' };
    const refused = await viaFlaggate('PATCH', `${strategies}/${strategy.id}`, release, why, [{ op: 'add', path: '/constraints/-', value: bare }]);
    expect(refused).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect((await read()).constraints).toEqual([]);
    const taken = await viaFlaggate('PATCH', `${strategies}/${strategy.id}`, release, why, [{ op: 'add', path: '/constraints/-', value: { ...bare, values: [] } }]);
    expect(taken.status).toBe(200);
    expect((await read()).constraints).toEqual([{ ...bare, values: [] }]);
    // Sent to Unleash directly, the bare constraint is stored with a values list the patch does not show.
    await direct('PATCH', `${strategies}/${strategy.id}`, [{ op: 'add', path: '/constraints/-', value: bare }]);
    expect((await read()).constraints[1]).toEqual({ ...bare, values: [] });
  });

  it('a delete of a live flag from the archive is refused: Unleash deletes archived flags only and answers 200 all the same', async () => {
    await direct('POST', FEATURES, { name: 'live.flag', type: 'release' });
    const res = await viaFlaggate('DELETE', '/api/admin/archive/live.flag', release, why);
    expect(res).toMatchObject({ status: 409, json: { code: 'ADAPT_TARGET_MISMATCH' } });
    expect((await direct('GET', `${FEATURES}/live.flag`)).archived).toBe(false);
    // Sent directly, Unleash says it did it, and did nothing.
    await direct('DELETE', '/api/admin/archive/live.flag');
    expect((await direct('GET', `${FEATURES}/live.flag`)).name).toBe('live.flag');
  });

  it('a clone records only what Unleash reads of its body: the rest is the source, as the state read shows', async () => {
    await direct('POST', FEATURES, { name: 'clone.kind', type: 'kill-switch', description: 'src', impressionData: true });
    const res = await viaFlaggate('POST', `${FEATURES}/clone.kind/clone`, release, why, { name: 'clone.kind.copy', type: 'release', impressionData: false, description: 'a fresh flag', enabled: true, strategies: [] });
    expect(res.status).toBeLessThan(300);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    expect(decision?.new_state).toEqual({ name: 'clone.kind.copy', cloneOf: 'clone.kind' });
    expect(await direct('GET', `${FEATURES}/clone.kind.copy`)).toMatchObject({ type: 'kill-switch', description: 'src', impressionData: true });
  });

  it("a bulk switch-off as Unleash's UI sends it, with a query parameter Unleash does not read, is applied without it", async () => {
    await direct('POST', FEATURES, { name: 'ui.bulk.off', type: 'release' });
    await direct('POST', `${FEATURES}/ui.bulk.off/environments/development/strategies`, { name: 'default' });
    await direct('POST', `${FEATURES}/ui.bulk.off/environments/development/on`);
    const res = await viaFlaggate('POST', '/api/admin/projects/default/bulk_features/environments/development/off?shouldActivateDisabledStrategies=false', release, why, { features: ['ui.bulk.off'] });
    expect(res.status).toBe(200);
    expect(await enabledIn('ui.bulk.off', 'development')).toBe(false);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
    expect(decision?.new_state).toEqual({ enabled: false, flags: ['ui.bulk.off'] });
  });

  it('a bulk switch-on naming a flag twice is refused: Unleash would add the default strategy twice', async () => {
    await direct('POST', FEATURES, { name: 'bulk.twice', type: 'release' });
    const bulk = '/api/admin/projects/default/bulk_features/environments/development/on';
    const strategies = async () => ((await direct('GET', `${FEATURES}/bulk.twice`)).environments as Array<{ name: string; strategies: unknown[] }>).find((e) => e.name === 'development')!.strategies;
    const res = await viaFlaggate('POST', bulk, release, why, { features: ['bulk.twice', 'bulk.twice'] });
    expect(res).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect(await strategies()).toHaveLength(0);
    await direct('POST', bulk, { features: ['bulk.twice', 'bulk.twice'] });
    expect(await strategies()).toHaveLength(2);
  });

  it("a strategy patch removing its segments or writing a member Unleash ignores is refused; a repeated id in a new order too", async () => {
    await direct('POST', FEATURES, { name: 'segmented.flag', type: 'release' });
    const segment = (await direct('POST', '/api/admin/segments', { name: 'segmented.vip', constraints: [] })) as { id: number };
    const strategies = `${FEATURES}/segmented.flag/environments/development/strategies`;
    const [a, b] = [await direct('POST', strategies, { name: 'default', parameters: {}, segments: [segment.id] }), await direct('POST', strategies, { name: 'default', parameters: {} })] as Array<{ id: string }>;
    const segmentsOf = async () => ((await direct('GET', `${strategies}/${a!.id}`)) as { segments: number[] }).segments;
    for (const patch of [[{ op: 'remove', path: '/segments' }], [{ op: 'add', path: '/featureName', value: 'other.flag' }]]) {
      const res = await viaFlaggate('PATCH', `${strategies}/${a!.id}`, release, why, patch);
      expect(res, JSON.stringify(patch)).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    }
    // Sent directly, the removal answers 200 and the segment stays.
    await direct('PATCH', `${strategies}/${a!.id}`, [{ op: 'remove', path: '/segments' }]);
    expect(await segmentsOf()).toEqual([segment.id]);
    const reorder = await viaFlaggate('POST', `${strategies}/set-sort-order`, release, why, [{ id: a!.id, sortOrder: 7 }, { id: b!.id, sortOrder: 3 }, { id: a!.id, sortOrder: 1 }]);
    expect(reorder).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
  });

  it('a variant list patched in with a text weight, a create dated by a number, a link renamed by its body, a tag too long as Unleash counts it: refused', async () => {
    await direct('POST', FEATURES, { name: 'odd.values', type: 'release' });
    const variant = (name: string, weightType: string, weight: unknown) => ({ name, weightType, weight, stickiness: 'default' });
    await direct('PUT', `${FEATURES}/odd.values/variants-batch`, { variants: [variant('a', 'variable', 1000)], environments: ['development'] });
    const variantsPath = `${FEATURES}/odd.values/environments/development/variants`;
    const list = [variant('treatment', 'variable', 100), variant('control', 'fix', '0')];
    expect(await viaFlaggate('PATCH', variantsPath, release, why, [{ op: 'replace', path: '', value: list }])).toMatchObject({ status: 409, json: { code: 'ADAPT_TARGET_MISMATCH' } });
    // Sent directly, Unleash stores the weight as text and gives the other variant what is left.
    await direct('PATCH', variantsPath, [{ op: 'replace', path: '', value: list }]);
    const stored = ((await direct('GET', `${FEATURES}/odd.values?variantEnvironments=true`)).environments as Array<{ name: string; variants: Array<{ name: string; weight: unknown }> }>).find((e) => e.name === 'development')!.variants;
    expect(stored.map((v) => [v.name, v.weight])).toEqual([['control', '0'], ['treatment', 1000]]);

    expect(await viaFlaggate('POST', FEATURES, release, why, { name: 'dated.zero', createdAt: 0 })).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    const dated = await viaFlaggate('POST', FEATURES, release, why, { name: 'dated.offset', createdAt: '2020-01-02T03:04:05.678+02:00' });
    expect(dated.status).toBe(201);
    const decision = (await ledgerEntries()).find((e) => e.decision_id === dated.decisionId && e.entry_type === 'change.decision');
    expect((decision?.new_state as { createdAt: string }).createdAt).toBe((await direct('GET', `${FEATURES}/dated.offset`)).createdAt);

    await direct('POST', `${FEATURES}/odd.values/link`, { url: 'https://docs.example.com/a', title: 'a' });
    const [link] = (await direct('GET', `${FEATURES}/odd.values`)).links as Array<{ id: string }>;
    const renamed = await viaFlaggate('PUT', `${FEATURES}/odd.values/link/${link!.id}`, release, why, { url: 'https://docs.example.com/b', title: 'b', id: 'HIJACKED-ID' });
    expect(renamed).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect(((await direct('GET', `${FEATURES}/odd.values`)).links as Array<{ id: string }>).map((l) => l.id)).toEqual([link!.id]);

    const tags = async () => ((await direct('GET', '/api/admin/features/odd.values/tags')) as { tags: Array<{ value: string }> }).tags.map((t) => t.value);
    const long = await viaFlaggate('PUT', '/api/admin/features/odd.values/tags', release, why, { addedTags: [{ type: 'simple', value: 'added-anyway' }, { type: 'simple', value: '\u{1F600}'.repeat(26) }], removedTags: [] });
    expect(long).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect(await tags()).toEqual([]);
  });

  it("environment variants patched one index at a time, as Unleash's UI edits them, record the list Unleash stores", async () => {
    await direct('POST', FEATURES, { name: 'ui.variants', type: 'release' });
    const variant = (name: string, weight: number) => ({ name, weightType: 'variable', weight, stickiness: 'default', overrides: [] });
    await direct('PUT', `${FEATURES}/ui.variants/variants-batch`, { variants: [variant('blue', 1000)], environments: ['development'] });
    const path = `${FEATURES}/ui.variants/environments/development/variants`;
    const stored = async () => ((await direct('GET', `${FEATURES}/ui.variants?variantEnvironments=true`)).environments as Array<{ name: string; variants: unknown[] }>).find((e) => e.name === 'development')!.variants;
    for (const ops of [
      // Adding a variant: the UI reweights the first and adds the second by index.
      [{ op: 'replace', path: '/0/weight', value: 500 }, { op: 'add', path: '/1', value: variant('green', 500) }],
      // A third, with weights of the UI's own, in front: Unleash shares them out and sorts.
      [{ op: 'add', path: '/0', value: variant('amber', 333) }],
      [{ op: 'remove', path: '/1' }],
    ]) {
      const res = await viaFlaggate('PATCH', path, release, why, ops);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
      const recorded = (decision?.previous_state as { environments: Record<string, { storedAfterPatch: unknown }> }).environments.development!.storedAfterPatch;
      expect(recorded, JSON.stringify(ops)).toEqual(await stored());
    }
  });

  it('a creation time without its offset, a segment id PostgreSQL reads as another, a strategy naming a segment twice: refused', async () => {
    expect(await viaFlaggate('POST', FEATURES, release, why, { name: 'dated.local', createdAt: '2020-01-02T03:04:05' })).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    const spelled = await viaFlaggate('POST', '/api/admin/segments', release, why, { id: '00534', name: 'spelled.id', constraints: [] });
    expect(spelled).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    await expect(direct('GET', '/api/admin/segments/534')).rejects.toThrow();
    await direct('POST', FEATURES, { name: 'twice.segmented', type: 'release' });
    const segment = (await direct('POST', '/api/admin/segments', { name: 'twice.vip', constraints: [] })) as { id: number };
    const strategies = `${FEATURES}/twice.segmented/environments/development/strategies`;
    const strategy = (await direct('POST', strategies, { name: 'default', parameters: {}, segments: [segment.id] })) as { id: string };
    for (const [method, path, body] of [
      ['PUT', `${strategies}/${strategy.id}`, { name: 'default', parameters: {}, constraints: [], segments: [segment.id, segment.id] }],
      ['PATCH', `${strategies}/${strategy.id}`, [{ op: 'add', path: '/segments/-', value: segment.id }]],
    ] as const) {
      expect(await viaFlaggate(method, path, release, why, body), method).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    }
    // Sent directly, the patch answers 200 and the strategy keeps the segment once: the patch would read otherwise.
    await direct('PATCH', `${strategies}/${strategy.id}`, [{ op: 'add', path: '/segments/-', value: segment.id }]);
    expect(((await direct('GET', `${strategies}/${strategy.id}`)) as { segments: number[] }).segments).toEqual([segment.id]);
  });

  it("a context field update is recorded as Unleash stores it: the sort order reset, a missing stickiness and legal values cleared", async () => {
    await direct('POST', '/api/admin/context', { name: 'region', description: 'where', legalValues: [{ value: 'eu' }, { value: 'us' }], stickiness: true, sortOrder: 7 });
    for (const body of [{ name: 'region', sortOrder: 5 }, { name: 'region', description: 'shop', stickiness: true, legalValues: [{ value: 'eu' }], sortOrder: 2 }]) {
      const res = await viaFlaggate('PUT', '/api/admin/context/region', release, why, body);
      expect(res.status).toBe(200);
      const { createdAt: _created, description, ...stored } = (await direct('GET', '/api/admin/context/region')) as Record<string, unknown>;
      const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
      // A description the body leaves out is kept, and the entry leaves it out too.
      expect(decision?.new_state, JSON.stringify(body)).toEqual('description' in body ? { ...stored, description } : stored);
      expect(description).toBe('description' in body ? body.description : 'where');
    }
  });
});

/**
 * A project's link templates (an Enterprise setting, written here into Unleash's own table) make
 * Unleash's create add a link per template to the new flag: the state read records them.
 */
describe("links a project's templates add to a new flag", () => {
  const why = { 'x-flaggate-reason': 'probe', 'x-flaggate-ticket': 'T-4' };
  const setTemplates = async (templates: unknown[]) => {
    const db = new pg.Client({ connectionString: unleash!.databaseUrl });
    await db.connect();
    try {
      await db.query('INSERT INTO project_settings (project, link_templates) VALUES ($1, $2::jsonb) ON CONFLICT (project) DO UPDATE SET link_templates = EXCLUDED.link_templates', ['default', JSON.stringify(templates)]);
    } finally {
      await db.end();
    }
  };

  it('a create and a clone record the links Unleash adds from the templates, as it stores them', async () => {
    await setTemplates([{ title: 'Runbook', urlTemplate: 'www.Example.com/{{project}}/{{feature}}?utm_source=x&b=2&a=1' }, { urlTemplate: 'https://tracker.example/{{feature}}' }]);
    try {
      const created = await viaFlaggate('POST', FEATURES, release, why, { name: 'templated.flag' });
      const cloned = await viaFlaggate('POST', `${FEATURES}/templated.flag/clone`, release, why, { name: 'templated.copy' });
      for (const [res, name] of [[created, 'templated.flag'], [cloned, 'templated.copy']] as const) {
        expect(res.status, name).toBeLessThan(300);
        const decision = (await ledgerEntries()).find((e) => e.decision_id === res.decisionId && e.entry_type === 'change.decision');
        const stored = ((await direct('GET', `${FEATURES}/${name}`)).links as Array<{ url: string; title: string | null }>).map(({ url, title }) => ({ url, title }));
        expect(stored, name).toHaveLength(2);
        expect((decision?.previous_state as { linksFromTemplates: unknown[] }).linksFromTemplates, name).toEqual(expect.arrayContaining(stored));
        expect((decision?.previous_state as { linksFromTemplates: unknown[] }).linksFromTemplates, name).toHaveLength(2);
      }
    } finally {
      await setTemplates([]);
    }
    // Without templates a create's state read is as it was.
    const plain = await viaFlaggate('POST', FEATURES, release, why, { name: 'untemplated.flag' });
    const decision = (await ledgerEntries()).find((e) => e.decision_id === plain.decisionId && e.entry_type === 'change.decision');
    expect(decision?.previous_state).toEqual({ exists: false });
  });
});
