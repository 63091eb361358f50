/**
 * A held change is applied only on the state it was decided on. Each case holds a critical change
 * in production, alters on Unleash directly something that changes what the change would do, and
 * approves: flaggate refuses it as CHANGE_STALE, and Unleash is left as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unleashAdmin, unleashEnabledIn, type UnleashServer } from '../support/unleash.js';
import { auditEntries, startUnleashSidecar } from '../support/unleash-sidecar.js';
import type { TestFlaggate } from '../support/flaggate.js';

let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let rita: string;
let sam: string;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';
const context = { 'x-flaggate-reason': 'payments launch', 'x-flaggate-ticket': 'CHG-81' };

const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);
const enabledIn = (feature: string) => unleashEnabledIn(unleash!, feature, 'production');

async function propose(method: string, path: string, body?: unknown) {
  const res = await fetch(app!.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${rita}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function approve(url: string) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** Holds the change, runs `meanwhile` on Unleash directly, and expects the approval refused as stale. */
async function staleOnApproval(held: { status: number; json: Record<string, unknown> }, meanwhile: () => Promise<unknown>): Promise<Record<string, unknown>> {
  expect(held.status, JSON.stringify(held.json)).toBe(202);
  const requested = (await auditEntries(app!, auditor)).find((e) => e.change_request_id === held.json.changeRequestId && e.entry_type === 'change.requested');
  await meanwhile();
  expect(await approve(String(held.json.approveUrl))).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
  return requested!.previous_state as Record<string, unknown>;
}

const production = async (feature: string) =>
  ((await direct('GET', `${FEATURES}/${feature}?variantEnvironments=true`)).environments as Array<{ name: string; enabled: boolean; variants: unknown[]; strategies: Array<{ id: string; segments: number[]; parameters: Record<string, string> }> }>).find((e) => e.name === 'production')!;

beforeAll(async () => {
  ({ unleash, app, stop } = await startUnleashSidecar());
  [rita, sam, auditor] = await Promise.all([app.token('rita', 'release_engineer'), app.token('sam', 'release_engineer'), app.token('ada', 'auditor')]);
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('a held change goes stale when what it would do changes on Unleash meanwhile', () => {
  it("a switch-on of a child whose parent is off: the dependency deleted meanwhile", async () => {
    await direct('POST', FEATURES, { name: 'ui.parent', type: 'release' });
    await direct('POST', FEATURES, { name: 'payments.child', type: 'release' });
    await direct('POST', `${FEATURES}/payments.child/environments/production/strategies`, { name: 'default' });
    await direct('POST', `${FEATURES}/payments.child/dependencies`, { feature: 'ui.parent', enabled: true });
    const held = await propose('POST', `${FEATURES}/payments.child/environments/production/on`);
    const recorded = await staleOnApproval(held, () => direct('DELETE', `${FEATURES}/payments.child/dependencies/ui.parent`));
    expect(recorded.dependencies).toEqual([{ feature: 'ui.parent', enabled: true, variants: [] }]);
    expect(await enabledIn('payments.child')).toBe(false);
  });

  it("a strategy PUT that keeps the strategy's segment: the segment emptied meanwhile", async () => {
    const vip = (await direct('POST', '/api/admin/segments', { name: 'payments.vip', constraints: [{ contextName: 'userId', operator: 'IN', values: ['vip-1'] }] })) as { id: number };
    await direct('POST', FEATURES, { name: 'payments.vip', type: 'release' });
    const strategy = (await direct('POST', `${FEATURES}/payments.vip/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: 'payments.vip' }, segments: [vip.id] })) as { id: string };
    await direct('POST', `${FEATURES}/payments.vip/environments/production/on`);
    // No `segments`: Unleash keeps the strategy's, so the raise reaches the VIPs only, as long as the segment selects them.
    const held = await propose('PUT', `${FEATURES}/payments.vip/environments/production/strategies/${strategy.id}`, { name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'payments.vip' }, constraints: [] });
    const recorded = await staleOnApproval(held, () => direct('PUT', `/api/admin/segments/${vip.id}`, { name: 'payments.vip', constraints: [] }));
    expect(recorded.segmentsNamed).toMatchObject({ [String(vip.id)]: { name: 'payments.vip', constraints: [{ contextName: 'userId', values: ['vip-1'] }] } });
    expect((await production('payments.vip')).strategies[0]).toMatchObject({ segments: [vip.id], parameters: { rollout: '10' } });
  });

  it('a switch-on of a flag deleted and created again under its name meanwhile', async () => {
    await direct('POST', FEATURES, { name: 'payments.reborn', type: 'release' });
    const held = await propose('POST', `${FEATURES}/payments.reborn/environments/production/on`);
    const recorded = await staleOnApproval(held, async () => {
      await direct('DELETE', `${FEATURES}/payments.reborn`);
      await direct('DELETE', '/api/admin/archive/payments.reborn');
      await direct('POST', FEATURES, { name: 'payments.reborn', type: 'release', description: 'another flag' });
    });
    expect(recorded.createdAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(await enabledIn('payments.reborn')).toBe(false);
  });

  it("a switch-on: the environment's variants replaced meanwhile (variants-batch)", async () => {
    const variant = (value: string) => ({ name: 'checkout', weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value } });
    await direct('POST', FEATURES, { name: 'payments.psp', type: 'release' });
    await direct('POST', `${FEATURES}/payments.psp/environments/production/strategies`, { name: 'default' });
    // Unleash 8.2 refuses environment variants on a flag that had none (`PUT …/variants`); a batch writes them all the same.
    await direct('PUT', `${FEATURES}/payments.psp/variants-batch`, { variants: [variant('psp=main')], environments: ['production'] });
    const held = await propose('POST', `${FEATURES}/payments.psp/environments/production/on`);
    const recorded = await staleOnApproval(held, () => direct('PUT', `${FEATURES}/payments.psp/variants-batch`, { variants: [variant('psp=elsewhere')], environments: ['production'] }));
    expect((recorded.environments as Record<string, { variants: unknown[] }>).production!.variants).toMatchObject([{ name: 'checkout', payload: { value: 'psp=main' } }]);
    expect(await production('payments.psp')).toMatchObject({ enabled: false, variants: [{ payload: { value: 'psp=elsewhere' } }] });
  });

  it("a new dependency on a parent that is off: the parent switched on meanwhile, even through flaggate", async () => {
    await direct('POST', FEATURES, { name: 'ui.banner', type: 'release' });
    await direct('POST', FEATURES, { name: 'payments.gated', type: 'release' });
    await direct('POST', `${FEATURES}/payments.gated/environments/production/strategies`, { name: 'default' });
    await direct('POST', `${FEATURES}/payments.gated/environments/production/on`);
    // Served only while the parent is off: with the parent off now, it changes nothing.
    const held = await propose('POST', `${FEATURES}/payments.gated/dependencies`, { feature: 'ui.banner', enabled: false });
    const recorded = await staleOnApproval(held, async () => {
      // The parent has no children yet, so its switch-on is not held.
      const on = await fetch(`${app!.proxyUrl}${FEATURES}/ui.banner/environments/production/on`, { method: 'POST', headers: { authorization: `Bearer ${rita}`, ...context } });
      expect(on.status).toBe(200);
    });
    expect(recorded.parent).toMatchObject({ name: 'ui.banner', environments: { production: { enabled: false } } });
    expect(((await direct('GET', `${FEATURES}/payments.gated`)) as { dependencies: unknown[] }).dependencies).toEqual([]);
  });
});
