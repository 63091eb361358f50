/**
 * A real client, driven by Unleash's own served OpenAPI document: openapi-client-axios calls
 * operations by operationId with flaggate as its base URL, in front of a real Unleash. Each
 * operation's effect is read back directly from Unleash and its ledger entries checked: variants,
 * tags, dependencies, bulk toggles, batch archive, segments (a critical flag in the blast radius
 * holds the change) and context fields; and a flag's whole lifecycle by a client that has only a
 * base URL and a token whose claims carry the reason and the ticket.
 */
import { OpenAPIClientAxios } from 'openapi-client-axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { mintDevToken } from '../../src/identify/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { startPostgres } from '../support/postgres.js';
import { startUnleash, unleashAdmin, unleashEnabledIn, type UnleashServer } from '../support/unleash.js';
import { auditEntries } from '../support/unleash-sidecar.js';

type Client = Record<string, (params?: unknown, data?: unknown) => Promise<{ status: number; data: unknown; headers: Record<string, unknown> }>>;

let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let definition: Record<string, unknown>;
let client: Client;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';
const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);
const enabledIn = (feature: string, environment: string) => unleashEnabledIn(unleash!, feature, environment);

/** A client of flaggate built from Unleash's document: only the base URL and the headers differ. */
async function clientFor(headers: Record<string, string>): Promise<Client> {
  const api = new OpenAPIClientAxios({
    definition: { ...definition, servers: [{ url: app!.proxyUrl }] } as never,
    axiosConfigDefaults: { headers, validateStatus: () => true },
  });
  return (await api.init()) as unknown as Client;
}

/** The entries of one decision (its id from the reply), in chain order. */
async function entriesOf(reply: { headers: Record<string, unknown> }): Promise<Array<Record<string, unknown>>> {
  const id = reply.headers['x-flaggate-decision-id'];
  expect(typeof id).toBe('string');
  return (await auditEntries(app!, auditor)).filter((e) => e.decision_id === id);
}

async function seedFlag(name: string, strategies: Array<{ environment: string; segments?: number[]; constraints?: unknown[] }> = []): Promise<void> {
  await direct('POST', FEATURES, { name, type: 'release' });
  for (const s of strategies) {
    await direct('POST', `${FEATURES}/${name}/environments/${s.environment}/strategies`, { name: 'default', segments: s.segments ?? [], constraints: s.constraints ?? [] });
  }
}

beforeAll(async () => {
  const pg = await startPostgres();
  // Unleash 8 takes environment variants only on flags that had them, unless legacy variants are on.
  unleash = await startUnleash({ databaseUrl: pg.url(), env: { UNLEASH_EXPERIMENTAL_ENABLE_LEGACY_VARIANTS: 'true' } });
  app = await startTestFlaggate({ 'platform.name': 'unleash', 'platform.targetUrl': unleash.url, 'platform.targetToken': unleash.adminToken });
  stop = async () => {
    await app?.stop();
    await unleash?.stop();
    await pg.stop();
  };
  const res = await fetch(`${unleash.url}/docs/openapi.json`);
  definition = (await res.json()) as Record<string, unknown>;
  const release = await app.token('riley', 'release_engineer');
  auditor = await app.token('ada', 'auditor');
  client = await clientFor({ authorization: `Bearer ${release}`, 'x-flaggate-reason': 'client test', 'x-flaggate-ticket': 'CHG-1' });
  for (const name of ['search.v2', 'checkout.v2', 'old.a', 'old.b']) await seedFlag(name);
  await seedFlag('payments.checkout', [{ environment: 'production' }]);
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('openapi-client-axios through flaggate, against a real Unleash', () => {
  it('overwrites variants, adds a tag and a dependency, each recorded', async () => {
    const variants = [{ name: 'blue', weight: 1000, weightType: 'variable', stickiness: 'default' }];
    const v = await client.overwriteEnvironmentFeatureVariants!({ projectId: 'default', featureName: 'search.v2', environment: 'development' }, variants);
    expect(v.status, JSON.stringify(v.data)).toBe(200);
    const read = (await direct('GET', `${FEATURES}/search.v2/environments/development/variants`)) as { variants: Array<{ name: string }> };
    expect(read.variants.map((x) => x.name)).toEqual(['blue']);
    expect((await entriesOf(v))[0]).toMatchObject({ action: 'variants.update', environment: 'development', new_state: { variants } });

    const t = await client.addTag!({ featureName: 'search.v2' }, { type: 'simple', value: 'team-a' });
    expect(t.status).toBe(201);
    expect((await direct('GET', '/api/admin/features/search.v2/tags')).tags).toContainEqual(expect.objectContaining({ type: 'simple', value: 'team-a' }));
    expect((await entriesOf(t)).map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);

    const d = await client.addFeatureDependency!({ projectId: 'default', child: 'search.v2' }, { feature: 'checkout.v2', enabled: true });
    expect(d.status).toBe(200);
    expect((await direct('GET', `${FEATURES}/search.v2`)).dependencies).toContainEqual(expect.objectContaining({ feature: 'checkout.v2' }));
    expect((await entriesOf(d))[0]).toMatchObject({ action: 'dependency.add', environment: '*', new_state: { parent: 'checkout.v2' } });
    // On a disabled parent Unleash drops the variants: the entry records the dependency it stores.
    const off = await client.addFeatureDependency!({ projectId: 'default', child: 'search.v2' }, { feature: 'checkout.v2', enabled: false, variants: ['blue'] });
    expect(off.status).toBe(200);
    const stored = ((await direct('GET', `${FEATURES}/search.v2`)).dependencies as Array<{ feature: string; enabled: boolean; variants?: string[] }>).find((x) => x.feature === 'checkout.v2')!;
    expect((await entriesOf(off))[0]).toMatchObject({ new_state: { parent: 'checkout.v2', enabled: stored.enabled, variants: stored.variants ?? [] } });
    // Unleash's validator would read null as false: refused, and Unleash keeps what it had.
    await client.addFeatureDependency!({ projectId: 'default', child: 'search.v2' }, { feature: 'checkout.v2', enabled: true });
    const coerced = await client.addFeatureDependency!({ projectId: 'default', child: 'search.v2' }, { feature: 'checkout.v2', enabled: null, variants: ['blue'] });
    expect(coerced).toMatchObject({ status: 400, data: { code: 'ADAPT_BODY_MALFORMED' } });
    expect((await direct('GET', `${FEATURES}/search.v2`)).dependencies).toContainEqual(expect.objectContaining({ feature: 'checkout.v2', enabled: true }));
  });

  it('decides a bulk toggle as one change over every flag, each before state in the entry', async () => {
    const r = await client.bulkToggleFeaturesEnvironmentOn!({ projectId: 'default', environment: 'development' }, { features: ['search.v2', 'checkout.v2'] });
    expect(r.status).toBe(200);
    expect(await enabledIn('search.v2', 'development')).toBe(true);
    expect(await enabledIn('checkout.v2', 'development')).toBe(true);
    const [decision, outcome] = await entriesOf(r);
    expect(decision).toMatchObject({ action: 'flag.enable', flag_key: 'checkout.v2,search.v2', environment: 'development', new_state: { enabled: true, flags: ['checkout.v2', 'search.v2'] } });
    const before = (decision!.previous_state as { flags: Record<string, { environments: Record<string, { enabled: boolean }> }> }).flags;
    expect(Object.keys(before).sort()).toEqual(['checkout.v2', 'search.v2']);
    expect(before['search.v2']!.environments.development!.enabled).toBe(false);
    expect(outcome).toMatchObject({ outcome: { status: 'applied' } });
  });

  it('holds a whole bulk toggle that names a critical flag: none of its flags changes', async () => {
    const r = await client.bulkToggleFeaturesEnvironmentOn!({ projectId: 'default', environment: 'production' }, { features: ['checkout.v2', 'payments.checkout'] });
    expect(r.status).toBe(202);
    expect(r.data).toMatchObject({ status: 'pending' });
    expect(await enabledIn('checkout.v2', 'production')).toBe(false);
    expect(await enabledIn('payments.checkout', 'production')).toBe(false);
  });

  it('archives a batch of flags in one decision', async () => {
    const r = await client.archiveFeatures!({ projectId: 'default' }, { features: ['old.a', 'old.b'] });
    expect(r.status).toBeLessThan(300);
    expect(r.data).not.toMatchObject({ status: 'pending' });
    const live = ((await direct('GET', FEATURES)).features as Array<{ name: string }>).map((f) => f.name);
    expect(live).not.toContain('old.a');
    expect(live).not.toContain('old.b');
    const [decision] = await entriesOf(r);
    expect(decision).toMatchObject({ action: 'flag.archive', flag_key: 'old.a,old.b', environment: '*' });
  });

  it('holds a segment change whose blast radius holds a critical flag in production; applies one that reaches only development', async () => {
    const vip = await client.createSegment!(undefined, { name: 'vip', constraints: [{ contextName: 'userId', operator: 'IN', values: ['1'] }] });
    expect(vip.status).toBe(201);
    const vipId = (vip.data as { id: number }).id;
    const beta = await client.createSegment!(undefined, { name: 'beta', constraints: [] });
    const betaId = (beta.data as { id: number }).id;
    await seedFlag('segmented.a', [{ environment: 'development', segments: [vipId, betaId] }]);
    await direct('POST', `${FEATURES}/payments.checkout/environments/production/strategies`, { name: 'default', segments: [vipId] });

    const held = await client.updateSegment!({ id: vipId }, { name: 'vip', constraints: [{ contextName: 'userId', operator: 'IN', values: ['2'] }] });
    expect(held.status).toBe(202);
    const segment = await direct('GET', `/api/admin/segments/${vipId}`);
    expect(segment.constraints).toEqual([expect.objectContaining({ values: ['1'] })]);
    const [requested] = await entriesOf(held);
    expect(requested).toMatchObject({ action: 'segment.update', flag_key: `segment:${vipId}`, environment: '*' });
    const radius = (requested!.previous_state as { strategies: Array<{ flagKey: string; environment: string }> }).strategies;
    expect(radius.map((s) => `${s.flagKey}@${s.environment}`).sort()).toEqual(['payments.checkout@production', 'segmented.a@development']);

    const applied = await client.updateSegment!({ id: betaId }, { name: 'beta', constraints: [{ contextName: 'appName', operator: 'IN', values: ['web'] }] });
    expect(applied.status).toBe(204);
    expect((await direct('GET', `/api/admin/segments/${betaId}`)).constraints).toEqual([expect.objectContaining({ values: ['web'] })]);
    const entries = await entriesOf(applied);
    expect(entries[0]).toMatchObject({ action: 'segment.update', environment: 'development', decision: { allow: true } });
    expect(entries[1]).toMatchObject({ outcome: { status: 'applied' } });
  });

  it('creates and changes a context field, recording every flag and environment whose constraints use it', async () => {
    const created = await client.createContextField!(undefined, { name: 'region', legalValues: [{ value: 'eu' }] });
    expect(created.status).toBe(201);
    await seedFlag('regional.a', [{ environment: 'production', constraints: [{ contextName: 'region', operator: 'IN', values: ['eu'] }] }]);
    const updated = await client.updateContextField!({ contextField: 'region' }, { name: 'region', description: 'where', legalValues: [{ value: 'eu' }, { value: 'us' }] });
    expect(updated.status).toBe(200);
    expect(((await direct('GET', '/api/admin/context/region')).legalValues as unknown[]).length).toBe(2);
    const [decision] = await entriesOf(updated);
    expect(decision).toMatchObject({ action: 'context.update', flag_key: 'context:region', environment: 'production' });
    expect((decision!.previous_state as { strategies: Array<{ flagKey: string }> }).strategies.map((s) => s.flagKey)).toEqual(['regional.a']);
  });
});

describe('a client with only a base URL and a bearer token', () => {
  it('takes a flag through its whole lifecycle, with the reason and ticket from the token recorded as such', async () => {
    const token = await mintDevToken({
      dataDir: app!.dataDir,
      sub: 'pipeline',
      roles: ['release_engineer'],
      claims: { reason: 'release 42 rollout', ticket: 'CHG-42' },
      clock: systemClock,
    });
    const bare = await clientFor({ authorization: `Bearer ${token}` });
    const steps = [
      await bare.createFeature!({ projectId: 'default' }, { name: 'lifecycle.x', type: 'release' }),
      await bare.addFeatureStrategy!({ projectId: 'default', featureName: 'lifecycle.x', environment: 'production' }, { name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'default', groupId: 'lifecycle.x' } }),
      await bare.toggleFeatureEnvironmentOn!({ projectId: 'default', featureName: 'lifecycle.x', environment: 'production' }),
    ];
    expect(await enabledIn('lifecycle.x', 'production')).toBe(true);
    steps.push(await bare.archiveFeature!({ projectId: 'default', featureName: 'lifecycle.x' }));
    steps.push(await bare.deleteFeature!({ featureName: 'lifecycle.x' }));
    expect(steps.map((s) => s.status < 300 && (s.data as { status?: string } | undefined)?.status !== 'pending')).toEqual([true, true, true, true, true]);
    await expect(direct('GET', `${FEATURES}/lifecycle.x`)).rejects.toThrow(/404/);
    for (const step of steps) {
      const [decision] = await entriesOf(step);
      expect(decision).toMatchObject({
        actor: { id: 'pipeline' },
        reason: 'release 42 rollout',
        linked_artifacts: { ticket: 'CHG-42' },
        context_sources: { reason: 'token', ticket: 'token' },
        decision: { allow: true },
      });
    }
  });
});
