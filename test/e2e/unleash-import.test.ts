/**
 * An Unleash import through flaggate, against a real Unleash 8.2: one decision over every flag the
 * payload names, each flag's state read from Unleash first; a critical flag among them holds the
 * whole import; what flaggate cannot decide faithfully (a context field the import would create) is
 * refused and recorded, and nothing reaches Unleash. Unleash takes imports only from a personal
 * access token, so the sidecar here holds one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { startPostgres } from '../support/postgres.js';
import { startUnleash, unleashAdmin, unleashPersonalToken, type UnleashServer } from '../support/unleash.js';
import { auditEntries } from '../support/unleash-sidecar.js';

let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let release: string;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';
const IMPORT = '/api/admin/features-batch/import';
const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);

interface FeatureRead {
  name: string;
  type: string;
  environments: Array<{ name: string; enabled: boolean; strategies: Array<{ name: string; parameters: Record<string, string>; constraints: Array<{ contextName: string }> }> }>;
}

async function feature(name: string): Promise<FeatureRead | undefined> {
  const res = await fetch(`${unleash!.url}${FEATURES}/${name}`, { headers: { authorization: unleash!.adminToken } });
  if (res.status === 404) return undefined;
  return (await res.json()) as FeatureRead;
}

async function importVia(body: unknown): Promise<{ status: number; decisionId: string | null; json: Record<string, unknown> }> {
  const res = await fetch(app!.proxyUrl + IMPORT, {
    method: 'POST',
    headers: { authorization: `Bearer ${release}`, 'content-type': 'application/json', 'x-flaggate-reason': 'import test', 'x-flaggate-ticket': 'CHG-17' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

function payload(environment: string, features: Array<{ name: string; type?: string }>, extra: Record<string, unknown> = {}): unknown {
  return { project: 'default', environment, data: { features, featureStrategies: [], featureEnvironments: [], tagTypes: [], ...extra } };
}

/** Flags switched on with a strategy each: one switched on without would get the project's default strategy, and is refused. */
function switchedOn(names: string[]): Record<string, unknown> {
  return {
    featureStrategies: names.map((n) => ({ featureName: n, name: 'default', parameters: {}, constraints: [] })),
    featureEnvironments: names.map((n) => ({ name: n, featureName: n, enabled: true })),
  };
}

const entriesOf = async (decisionId: string | null) => (await auditEntries(app!, auditor)).filter((e) => e.decision_id === decisionId);

beforeAll(async () => {
  const pg = await startPostgres();
  unleash = await startUnleash({ databaseUrl: pg.url() });
  const pat = await unleashPersonalToken(unleash);
  app = await startTestFlaggate({ 'platform.name': 'unleash', 'platform.targetUrl': unleash.url, 'platform.targetToken': pat });
  stop = async () => {
    await app?.stop();
    await unleash?.stop();
    await pg.stop();
  };
  [release, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('ada', 'auditor')]);
  await direct('POST', FEATURES, { name: 'import.a', type: 'release' });
  await direct('POST', `${FEATURES}/import.a/environments/development/strategies`, { name: 'default', constraints: [] });
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('an Unleash import through flaggate', () => {
  it('applies an import of two flags as one decision, each flag read back from Unleash', async () => {
    const strategy = { name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'default', groupId: 'g' }, constraints: [{ contextName: 'userId', operator: 'IN', values: ['7'] }] };
    const res = await importVia(
      payload('development', [{ name: 'import.a', type: 'release' }, { name: 'import.b', type: 'experiment' }], {
        featureStrategies: [{ featureName: 'import.a', ...strategy }, { featureName: 'import.b', name: 'default', parameters: {}, constraints: [] }],
        featureEnvironments: [{ name: 'import.a', featureName: 'import.a', environment: 'development', enabled: true }, { name: 'import.b', featureName: 'import.b', enabled: true }],
        contextFields: [{ name: 'userId' }],
      }),
    );
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const a = (await feature('import.a'))!.environments.find((e) => e.name === 'development')!;
    expect(a.enabled).toBe(true);
    // The import replaced the environment's strategies: the seeded `default` is gone.
    expect(a.strategies.map((s) => s.name)).toEqual(['flexibleRollout']);
    expect(a.strategies[0]!.parameters.rollout).toBe('30');
    const b = (await feature('import.b'))!;
    expect(b.type).toBe('experiment');
    expect(b.environments.find((e) => e.name === 'development')).toMatchObject({ enabled: true, strategies: [expect.objectContaining({ name: 'default' })] });
    expect(b.environments.find((e) => e.name === 'production')!.enabled).toBe(false);

    const [decision, outcome] = await entriesOf(res.decisionId);
    expect(decision).toMatchObject({ action: 'flag.import', flag_key: 'import.a,import.b', environment: 'development', decision: { allow: true } });
    const before = (decision!.previous_state as { flags: Record<string, { exists: boolean; environments?: Record<string, { strategies: Array<{ name: string }> }> }> }).flags;
    expect(before['import.b']).toEqual({ exists: false });
    expect(before['import.a']!.environments!.development!.strategies.map((s) => s.name)).toEqual(['default']);
    expect(decision!.new_state).toMatchObject({ environment: 'development', flags: { 'import.b': { type: 'experiment', enabled: true } } });
    expect(outcome).toMatchObject({ entry_type: 'change.outcome', outcome: { status: 'applied' } });
  });

  it('holds the whole import for approval when it names a critical flag in production: no flag changes', async () => {
    const res = await importVia(
      payload('production', [{ name: 'import.c' }, { name: 'payments.imported' }], switchedOn(['import.c', 'payments.imported'])),
    );
    expect(res.status, JSON.stringify(res.json)).toBe(202);
    expect(res.json).toMatchObject({ status: 'pending' });
    expect(await feature('import.c')).toBeUndefined();
    expect(await feature('payments.imported')).toBeUndefined();
    // Without the critical flag, the same import into production is applied: the critical flag held it.
    const plain = await importVia(payload('production', [{ name: 'import.c' }], switchedOn(['import.c'])));
    expect(plain.status, JSON.stringify(plain.json)).toBe(200);
    expect((await feature('import.c'))!.environments.find((e) => e.name === 'production')!.enabled).toBe(true);
  });

  it('applies a held import once a second identity approves it, every flag as decided', async () => {
    const held = await importVia(
      payload('production', [{ name: 'import.e' }, { name: 'payments.approved' }], switchedOn(['import.e', 'payments.approved'])),
    );
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    const sam = await app!.token('sam', 'release_engineer');
    const res = await fetch(String(held.json.approveUrl), { method: 'POST', headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
    expect(await res.json()).toMatchObject({ status: 'applied', platformStatus: 200 });
    for (const name of ['import.e', 'payments.approved']) {
      expect((await feature(name))!.environments.find((e) => e.name === 'production')!.enabled, name).toBe(true);
    }
  });

  it('decides an import that changes an existing flag\'s type as altering every environment', async () => {
    const res = await importVia(payload('development', [{ name: 'import.a', type: 'operational' }]));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect((await feature('import.a'))!.type).toBe('operational');
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ flag_key: 'import.a', environment: '*' });
  });

  it('refuses and records an import that would create a context field, forwarding nothing', async () => {
    const res = await importVia(payload('development', [{ name: 'import.d' }], { contextFields: [{ name: 'brandNewField', legalValues: [] }] }));
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED', message: expect.stringContaining('brandNewField') });
    expect(await feature('import.d')).toBeUndefined();
    const fields = (await direct('GET', '/api/admin/context')) as unknown as Array<{ name: string }>;
    expect(fields.map((f) => f.name)).not.toContain('brandNewField');
    expect((await entriesOf(res.decisionId))[0]).toMatchObject({ action: 'flag.import', flag_key: 'import.d', decision: { error_code: 'ADAPT_WRITE_UNRECOGNIZED' } });
  });

  it("holds an import of a parent flag whose child is critical: the child serves only where the parent does", async () => {
    await direct('POST', FEATURES, { name: 'import.parent', type: 'release' });
    await direct('POST', FEATURES, { name: 'payments.import-child', type: 'release' });
    await direct('POST', `${FEATURES}/payments.import-child/dependencies`, { feature: 'import.parent', enabled: true });
    const res = await importVia(payload('production', [{ name: 'import.parent', type: 'release' }], {
      featureStrategies: [{ featureName: 'import.parent', name: 'default', parameters: {}, constraints: [] }],
      featureEnvironments: [{ name: 'import.parent', featureName: 'import.parent', environment: 'production', enabled: true }],
    }));
    expect(res.status).toBe(202);
    expect((await feature('import.parent'))!.environments.find((e) => e.name === 'production')!.enabled).toBe(false);
  });

  it('refuses an import whose strategy writes a rollout evaluators read apart ("0x32")', async () => {
    const res = await importVia(payload('development', [{ name: 'import.a', type: 'release' }], {
      featureStrategies: [{ featureName: 'import.a', name: 'flexibleRollout', parameters: { rollout: '0x32', stickiness: 'default', groupId: 'import.a' }, constraints: [] }],
    }));
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ code: 'ADAPT_BODY_MALFORMED' });
  });

  it('refuses an import naming an archived flag, which Unleash would skip without a word', async () => {
    await direct('POST', FEATURES, { name: 'import.old', type: 'release' });
    await direct('DELETE', `${FEATURES}/import.old`);
    const res = await importVia(payload('development', [{ name: 'import.old' }]));
    expect(res.status).toBe(403);
    expect(res.json).toMatchObject({ code: 'ADAPT_WRITE_UNRECOGNIZED', message: expect.stringContaining('archived') });
  });

  it("records a description the import leaves out as none, as Unleash stores it over the flag's own", async () => {
    await direct('POST', FEATURES, { name: 'import.described', type: 'release', description: 'keep me' });
    const res = await importVia(payload('development', [{ name: 'import.described', type: 'release' }]));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const [decision] = await entriesOf(res.decisionId);
    expect((decision!.previous_state as { flags: Record<string, { description: unknown }> }).flags['import.described']!.description).toBe('keep me');
    expect((decision!.new_state as { flags: Record<string, { description: unknown }> }).flags['import.described']!.description).toBeNull();
    expect((await direct('GET', `${FEATURES}/import.described`)).description).toBeNull();
  });

  it('refuses strategies of one flag without sort orders of their own, which Unleash would serve in the order of new ids; takes them with', async () => {
    await direct('POST', FEATURES, { name: 'import.ordered', type: 'release' });
    const strategies = (orders?: number[]) => ({
      featureStrategies: ['first', 'second', 'third'].map((title, i) => ({ featureName: 'import.ordered', name: 'default', title, parameters: {}, constraints: [], ...(orders ? { sortOrder: orders[i] } : {}) })),
    });
    const refused = await importVia(payload('development', [{ name: 'import.ordered', type: 'release' }], strategies()));
    expect(refused).toMatchObject({ status: 400, json: { code: 'ADAPT_BODY_MALFORMED' } });
    expect((await feature('import.ordered'))!.environments.find((e) => e.name === 'development')!.strategies).toEqual([]);
    const taken = await importVia(payload('development', [{ name: 'import.ordered', type: 'release' }], strategies([2, 0, 1])));
    expect(taken.status, JSON.stringify(taken.json)).toBe(200);
    const stored = (await feature('import.ordered'))!.environments.find((e) => e.name === 'development')!.strategies as unknown as Array<{ title: string; sortOrder: number }>;
    expect([...stored].sort((a, b) => a.sortOrder - b.sortOrder).map((s) => s.title)).toEqual(['second', 'third', 'first']);
    const [decision] = await entriesOf(taken.decisionId);
    const recorded = (decision!.new_state as { flags: Record<string, { strategies: Array<{ title: string; sortOrder: number }> }> }).flags['import.ordered']!.strategies;
    expect(Object.fromEntries(recorded.map((s) => [s.title, s.sortOrder]))).toEqual(Object.fromEntries(stored.map((s) => [s.title, s.sortOrder])));
  });

  it('records imported constraints and a lone strategy as Unleash stores them', async () => {
    await direct('POST', FEATURES, { name: 'import.constrained', type: 'release' });
    const res = await importVia(payload('development', [{ name: 'import.constrained', type: 'release' }], {
      featureStrategies: [{ featureName: 'import.constrained', name: 'default', parameters: {}, constraints: [{ contextName: 'userId', operator: 'NUM_GT', value: '5' }] }],
    }));
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    const [decision] = await entriesOf(res.decisionId);
    const [recorded] = (decision!.new_state as { flags: Record<string, { strategies: Array<Record<string, unknown>> }> }).flags['import.constrained']!.strategies;
    const [stored] = (await feature('import.constrained'))!.environments.find((e) => e.name === 'development')!.strategies as unknown as Array<Record<string, unknown>>;
    for (const member of ['constraints', 'variants', 'sortOrder', 'parameters', 'name']) expect(stored![member], member).toEqual(recorded![member]);
  });

  it("imports an unedited export of Unleash's own: its stale, archived and strategy ids are what the import stores anyway", async () => {
    await direct('POST', FEATURES, { name: 'import.exported', type: 'release' });
    await direct('POST', `${FEATURES}/import.exported/environments/development/strategies`, { name: 'default', parameters: {}, constraints: [] });
    const exported = (await direct('POST', '/api/admin/features-batch/export', { features: ['import.exported'], environment: 'development' })) as Record<string, unknown>;
    const features = exported.features as Array<Record<string, unknown>>;
    expect(features[0]).toMatchObject({ stale: false, archived: false });
    expect((exported.featureStrategies as Array<Record<string, unknown>>)[0]).toHaveProperty('id');
    const res = await importVia({ project: 'default', environment: 'development', data: exported });
    expect(res.status, JSON.stringify(res.json)).toBe(200);
  });
});
