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
