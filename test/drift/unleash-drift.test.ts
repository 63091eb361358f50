import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { startUnleash, unleashAdmin, type UnleashServer } from '../support/unleash.js';
import { auditEntries } from '../support/unleash-sidecar.js';

let pg: PgCluster | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let release: string;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';
const INTERVAL_SECONDS = 1;
const OTHER_ADMIN_TOKEN = `*:*.${randomBytes(24).toString('hex')}`;

const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);
const driftEntries = async () => (await auditEntries(app!, auditor)).filter((e) => e.entry_type === 'drift.detected');

async function viaFlaggate(method: string, path: string) {
  const res = await fetch(app!.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'planned', 'x-flaggate-ticket': 'CHG-9' },
  });
  await res.body?.cancel();
  return res.status;
}

/** Waits (bounded) until `found` holds: the watcher runs on its own interval here. */
async function waitFor<T>(read: () => Promise<T>, found: (v: T) => boolean, seconds: number): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const v = await read();
    if (found(v) || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  pg = await startPostgres();
  unleash = await startUnleash({ databaseUrl: pg.url(), env: { FLAGGATE_UNLEASH_OTHER_ADMIN_TOKEN: OTHER_ADMIN_TOKEN } });
  await direct('POST', FEATURES, { name: 'checkout.v2', type: 'release' });
  await direct('POST', FEATURES, { name: 'search.v3', type: 'release' });
  app = await startTestFlaggate(
    { 'platform.name': 'unleash', 'platform.targetUrl': unleash.url, 'platform.targetToken': unleash.adminToken, 'drift.intervalSeconds': INTERVAL_SECONDS },
  );
  [release, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('ada', 'auditor')]);
}, 240_000);

afterAll(async () => {
  await app?.stop();
  await unleash?.stop();
  await pg?.stop();
}, 60_000);

describe('drift in front of a real Unleash', () => {
  it('does not report changes made through flaggate', async () => {
    expect(await viaFlaggate('POST', `${FEATURES}/checkout.v2/environments/development/on`)).toBe(200);
    expect(await viaFlaggate('POST', `${FEATURES}/checkout.v2/environments/development/off`)).toBe(200);
    await app!.drift!.checkNow();
    await app!.drift!.checkNow();
    expect(await driftEntries()).toEqual([]);
  });

  it('finds a change made directly in Unleash with the admin token, within an interval, with its event id and actor', async () => {
    await direct('POST', `${FEATURES}/checkout.v2/environments/production/on`);
    const [event] = (await direct('GET', '/api/admin/search/events?feature=IS:checkout.v2&limit=1')).events as Array<{ id: number; createdBy: string; type: string }>;
    expect(event!.type).toBe('feature-environment-enabled');

    const found = await waitFor(driftEntries, (d) => d.some((e) => (e.drift as { platform_event_id: string }).platform_event_id === String(event!.id)), 5 * INTERVAL_SECONDS);
    // Unleash also records the default strategy it adds on enabling: every event is reported.
    expect(found.every((e) => e.flag_key === 'checkout.v2')).toBe(true);
    expect(found.find((e) => (e.drift as { platform_event_id: string }).platform_event_id === String(event!.id))).toMatchObject({
      platform: 'unleash',
      project: 'default',
      flag_key: 'checkout.v2',
      environment: 'production',
      actor: { id: 'flaggate-drift-watcher', auth_method: 'system' },
      drift: { source: 'event_log', platform_event_id: String(event!.id), platform_actor: 'flaggate-test-admin', platform_time: expect.any(String) },
    });
    // The state difference it caused is the same change: not reported a second time.
    await app!.drift!.checkNow();
    expect(await driftEntries()).toHaveLength(found.length);
  });

  it('finds a direct change even while flaggate changes the same flag, by another token', async () => {
    const before = (await driftEntries()).length;
    expect(await viaFlaggate('POST', `${FEATURES}/search.v3/environments/development/on`)).toBe(200);
    const res = await fetch(`${unleash!.url}${FEATURES}/search.v3/environments/development/off`, { method: 'POST', headers: { authorization: OTHER_ADMIN_TOKEN } });
    expect(res.status).toBe(200);
    const found = (await app!.drift!.checkNow()).concat(await app!.drift!.checkNow());
    expect(found.map((e) => [e.flag_key, e.drift?.platform_actor])).toContainEqual(['search.v3', 'someone-else']);
    expect((await driftEntries()).length).toBeGreaterThan(before);
  });

  it('finds a flag created in Unleash around flaggate', async () => {
    await direct('POST', FEATURES, { name: 'shadow.flag', type: 'release' });
    const found = await app!.drift!.checkNow();
    expect(found.map((e) => [e.flag_key, e.drift?.source])).toContainEqual(['shadow.flag', 'event_log']);
  });
});
