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
const context = { 'x-flaggate-reason': 'payments launch', 'x-flaggate-ticket': 'CHG-77' };

const direct = (method: string, path: string, body?: unknown) => unleashAdmin(unleash!, method, path, body);
const enabledIn = (feature: string, environment: string) => unleashEnabledIn(unleash!, feature, environment);

async function propose(path: string, method = 'POST', body?: unknown) {
  const res = await fetch(app!.proxyUrl + path, {
    method,
    headers: { authorization: `Bearer ${rita}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (await res.json()) as Record<string, unknown> };
}

async function approve(url: string, token: string) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const ledgerEntries = () => auditEntries(app!, auditor);

/** Holds the change, runs `meanwhile` on Unleash directly, and expects the approval refused as stale. */
async function staleOnApproval(held: { status: number; json: Record<string, unknown> }, meanwhile: () => Promise<unknown>): Promise<Record<string, unknown>> {
  expect(held.status, JSON.stringify(held.json)).toBe(202);
  const requested = (await ledgerEntries()).find((e) => e.change_request_id === held.json.changeRequestId && e.entry_type === 'change.requested');
  await meanwhile();
  expect(await approve(String(held.json.approveUrl), sam)).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
  return requested!.previous_state as Record<string, unknown>;
}

const production = async (feature: string) =>
  ((await direct('GET', `${FEATURES}/${feature}?variantEnvironments=true`)).environments as Array<{ name: string; enabled: boolean; variants: unknown[]; strategies: Array<{ id: string; segments: number[]; parameters: Record<string, string> }> }>).find((e) => e.name === 'production')!;

beforeAll(async () => {
  ({ unleash, app, stop } = await startUnleashSidecar());
  [rita, sam, auditor] = await Promise.all([app.token('rita', 'release_engineer'), app.token('sam', 'release_engineer'), app.token('ada', 'auditor')]);
  for (const name of ['payments.checkout', 'payments.refunds']) {
    await direct('POST', FEATURES, { name, type: 'release' });
    await direct('POST', `${FEATURES}/${name}/environments/production/strategies`, { name: 'default' });
  }
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('approvals in front of a real Unleash', () => {
  it('holds a critical production change, applies it once a second identity approves, and links every entry', async () => {
    const held = await propose(`${FEATURES}/payments.checkout/environments/production/on`);
    expect(held.status).toBe(202);
    expect(held.json).toMatchObject({ status: 'pending' });
    expect(await enabledIn('payments.checkout', 'production')).toBe(false);

    const approved = await approve(String(held.json.approveUrl), sam);
    expect(approved).toMatchObject({ status: 200, json: { status: 'applied', platformStatus: 200 } });
    expect(await enabledIn('payments.checkout', 'production')).toBe(true);

    const mine = (await ledgerEntries()).filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.requested', 'change.approved', 'change.decision', 'change.outcome']);
    expect(mine[0]).toMatchObject({ actor: { id: 'rita' }, flag_key: 'payments.checkout', environment: 'production', linked_artifacts: { ticket: 'CHG-77' } });
    expect(mine[1]).toMatchObject({ actor: { id: 'sam' }, reason: 'reviewed', decision: { allow: true } });
    expect(mine[2]).toMatchObject({ actor: { id: 'rita' }, decision: { allow: true }, approval: { approved_by: ['sam'] } });
    expect(mine[3]).toMatchObject({ outcome: { status: 'applied', platform_status: 200 } });
    expect(JSON.stringify(mine[2]!.previous_state)).toContain('"enabled":false');
  });

  it('refuses to apply as CHANGE_STALE when the flag changed on Unleash directly after the request', async () => {
    const held = await propose(`${FEATURES}/payments.refunds/environments/production/on`);
    expect(held.status).toBe(202);
    await direct('POST', `${FEATURES}/payments.refunds/environments/production/on`);
    await direct('POST', `${FEATURES}/payments.refunds/environments/production/off`);
    await direct('POST', `${FEATURES}/payments.refunds/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '5', stickiness: 'default', groupId: 'payments.refunds' } });

    const approved = await approve(String(held.json.approveUrl), sam);
    expect(approved).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
    expect(await enabledIn('payments.refunds', 'production')).toBe(false);
    const last = (await ledgerEntries()).filter((e) => e.change_request_id === held.json.changeRequestId).at(-1);
    expect(last).toMatchObject({ entry_type: 'change.decision', decision: { allow: false, error_code: 'CHANGE_STALE' } });
  });

  it('shows the approver the strategy a held strategy change affects, and keeps only the allowlisted request headers', async () => {
    const state = await direct('GET', `${FEATURES}/payments.checkout`);
    const production = (state.environments as Array<{ name: string; strategies: Array<{ id: string }> }>).find((e) => e.name === 'production')!;
    const strategyId = production.strategies[0]!.id;
    const res = await fetch(`${app!.proxyUrl}${FEATURES}/payments.checkout/environments/production/strategies/${strategyId}`, {
      method: 'PUT',
      headers: {
        authorization: `Bearer ${rita}`,
        ...context,
        'content-type': 'application/json',
        cookie: 'session=s3cret',
        'x-api-key': 'k3y',
        'x-forwarded-for': '203.0.113.9',
      },
      body: JSON.stringify({ name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: 'payments.checkout' } }),
    });
    const held = (await res.json()) as Record<string, unknown>;
    expect(res.status, JSON.stringify(held)).toBe(202);
    const shown = (await (await fetch(`${app!.controlUrl}/v1/changes/${String(held.changeRequestId)}`, { headers: { authorization: `Bearer ${sam}` } })).json()) as Record<string, unknown>;
    expect(shown.headers).toEqual({ 'content-type': 'application/json', 'x-flaggate-reason': 'payments launch', 'x-flaggate-ticket': 'CHG-77' });
    expect(shown.object).toEqual({ kind: 'strategy', pointer: '/environments/production/strategies/0' });
    expect(shown.before).toMatchObject({ id: strategyId, name: 'default' });
    expect(shown.after).toMatchObject({ id: strategyId, name: 'flexibleRollout', rollout: 10 });
    const paths = (shown.diff as Array<{ path: string }>).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['/name', '/parameters/rollout']));
    // Only the strategy's own fields: nothing of the flag around it.
    expect(paths.filter((p) => ['/environments', '/exists', '/project', '/type'].some((flagKey) => p.startsWith(flagKey)))).toEqual([]);
  });

  it("a held strategy change goes stale when a segment it names, a strategy's variants or the strategies' order move meanwhile", async () => {
    const send = async (method: string, path: string, body: unknown) => {
      const res = await fetch(app!.proxyUrl + path, { method, headers: { authorization: `Bearer ${rita}`, 'content-type': 'application/json', ...context }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as Record<string, unknown> };
    };
    const flag = async (name: string, strategy: Record<string, unknown>) => {
      await direct('POST', FEATURES, { name, type: 'release' });
      return (await direct('POST', `${FEATURES}/${name}/environments/production/strategies`, strategy)) as { id: string };
    };
    const rollout = (percent: string) => ({ rollout: percent, stickiness: 'default', groupId: 'g' });
    const variant = (name: string, value: string) => ({ name, weight: 500, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value } });
    const staleOnApproval = async (held: { status: number; json: Record<string, unknown> }, meanwhile: () => Promise<unknown>) => {
      expect(held.status, JSON.stringify(held.json)).toBe(202);
      await meanwhile();
      expect(await approve(String(held.json.approveUrl), sam)).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
    };

    // The segment a held strategy update names is emptied: approved, it would select everyone.
    const gated = await flag('payments.segmented', { name: 'flexibleRollout', parameters: rollout('0') });
    const testers = (await direct('POST', '/api/admin/segments', { name: 'payments.testers', constraints: [{ contextName: 'userId', operator: 'IN', values: ['internal-tester'] }] })) as { id: number };
    const widen = await send('PUT', `${FEATURES}/payments.segmented/environments/production/strategies/${gated.id}`, { name: 'flexibleRollout', parameters: rollout('100'), constraints: [], segments: [testers.id] });
    await staleOnApproval(widen, () => direct('PUT', `/api/admin/segments/${testers.id}`, { name: 'payments.testers', constraints: [] }));
    const strategies = async (name: string) => ((await direct('GET', `${FEATURES}/${name}`)).environments as Array<{ name: string; strategies: Array<{ segments: number[]; parameters: Record<string, string> }> }>).find((e) => e.name === 'production')!.strategies;
    expect((await strategies('payments.segmented'))[0]).toMatchObject({ segments: [], parameters: { rollout: '0' } });

    // A variant patched by its index: the strategy's variants are replaced meanwhile.
    const varied = await flag('payments.varied', { name: 'flexibleRollout', parameters: rollout('100'), variants: [variant('a-legacy', 'legacy-checkout'), variant('b-new', 'new-checkout')] });
    const payload = await send('PATCH', `${FEATURES}/payments.varied/environments/production/strategies/${varied.id}`, [{ op: 'replace', path: '/variants/0/payload', value: { type: 'string', value: 'psp=test-sandbox' } }]);
    await staleOnApproval(payload, () =>
      direct('PUT', `${FEATURES}/payments.varied/environments/production/strategies/${varied.id}`, { name: 'flexibleRollout', parameters: rollout('100'), constraints: [], variants: [variant('a-all-users', 'checkout-main'), variant('b-new', 'new-checkout')] }),
    );

    // A strategy created to come second: the first one is moved behind it meanwhile.
    const first = await flag('payments.ordered', { name: 'flexibleRollout', parameters: rollout('100'), sortOrder: 0 });
    const second = await send('POST', `${FEATURES}/payments.ordered/environments/production/strategies`, { name: 'flexibleRollout', parameters: rollout('100'), sortOrder: 1 });
    await staleOnApproval(second, () => direct('POST', `${FEATURES}/payments.ordered/environments/production/strategies/set-sort-order`, [{ id: first.id, sortOrder: 5 }]));
    expect(await strategies('payments.ordered')).toHaveLength(1);
  });

  it("a held switch-on shows whom its strategies' segments select, and goes stale when one changes", async () => {
    const staff = (await direct('POST', '/api/admin/segments', { name: 'payments.staff', constraints: [{ contextName: 'userId', operator: 'IN', values: ['staff'] }] })) as { id: number };
    await direct('POST', FEATURES, { name: 'payments.audience', type: 'release' });
    await direct('POST', `${FEATURES}/payments.audience/environments/production/strategies`, { name: 'default', segments: [staff.id] });
    const held = await propose(`${FEATURES}/payments.audience/environments/production/on`);
    expect(held.status).toBe(202);
    const requested = (await ledgerEntries()).find((e) => e.change_request_id === held.json.changeRequestId && e.entry_type === 'change.requested');
    const selects = { [String(staff.id)]: { name: 'payments.staff', constraints: [{ contextName: 'userId', operator: 'IN', values: ['staff'] }] } };
    expect(requested?.previous_state).toMatchObject({ segmentsNamed: selects });
    // The approver is shown whom the segments select.
    const view = await fetch(String(held.json.approveUrl).replace(/\/approve$/, ''), { headers: { authorization: `Bearer ${sam}` } });
    expect(await view.json()).toMatchObject({ segments: selects });
    // Widened to everyone while the switch-on waits: approved now, it would serve everyone.
    await direct('PUT', `/api/admin/segments/${staff.id}`, { name: 'payments.staff', constraints: [] });
    expect(await approve(String(held.json.approveUrl), sam)).toMatchObject({ status: 409, json: { code: 'CHANGE_STALE' } });
    expect(await enabledIn('payments.audience', 'production')).toBe(false);
  });

  it('verify says OK over the whole chain', async () => {
    const res = await fetch(`${app!.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await res.json()).toMatchObject({ ok: true });
  });
});

/**
 * A held change is applied only on the state it was decided on. Each case holds a critical change
 * in production, alters on Unleash directly something that changes what the change would do, and
 * approves: flaggate refuses it as CHANGE_STALE, and Unleash is left as it was.
 */
describe('a held change goes stale when what it would do changes on Unleash meanwhile', () => {
  it("a switch-on of a child whose parent is off: the dependency deleted meanwhile", async () => {
    await direct('POST', FEATURES, { name: 'ui.parent', type: 'release' });
    await direct('POST', FEATURES, { name: 'payments.child', type: 'release' });
    await direct('POST', `${FEATURES}/payments.child/environments/production/strategies`, { name: 'default' });
    await direct('POST', `${FEATURES}/payments.child/dependencies`, { feature: 'ui.parent', enabled: true });
    const held = await propose(`${FEATURES}/payments.child/environments/production/on`);
    const recorded = await staleOnApproval(held, () => direct('DELETE', `${FEATURES}/payments.child/dependencies/ui.parent`));
    expect(recorded.dependencies).toEqual([{ feature: 'ui.parent', enabled: true, variants: [] }]);
    expect(await enabledIn('payments.child', 'production')).toBe(false);
  });

  it("a strategy PUT that keeps the strategy's segment: the segment emptied meanwhile", async () => {
    const vip = (await direct('POST', '/api/admin/segments', { name: 'payments.vip', constraints: [{ contextName: 'userId', operator: 'IN', values: ['vip-1'] }] })) as { id: number };
    await direct('POST', FEATURES, { name: 'payments.vip', type: 'release' });
    const strategy = (await direct('POST', `${FEATURES}/payments.vip/environments/production/strategies`, { name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: 'payments.vip' }, segments: [vip.id] })) as { id: string };
    await direct('POST', `${FEATURES}/payments.vip/environments/production/on`);
    // No `segments`: Unleash keeps the strategy's, so the raise reaches the VIPs only, as long as the segment selects them.
    const held = await propose(`${FEATURES}/payments.vip/environments/production/strategies/${strategy.id}`, 'PUT', { name: 'flexibleRollout', parameters: { rollout: '100', stickiness: 'default', groupId: 'payments.vip' }, constraints: [] });
    const recorded = await staleOnApproval(held, () => direct('PUT', `/api/admin/segments/${vip.id}`, { name: 'payments.vip', constraints: [] }));
    expect(recorded.segmentsNamed).toMatchObject({ [String(vip.id)]: { name: 'payments.vip', constraints: [{ contextName: 'userId', values: ['vip-1'] }] } });
    expect((await production('payments.vip')).strategies[0]).toMatchObject({ segments: [vip.id], parameters: { rollout: '10' } });
  });

  it('a switch-on of a flag deleted and created again under its name meanwhile', async () => {
    await direct('POST', FEATURES, { name: 'payments.reborn', type: 'release' });
    const held = await propose(`${FEATURES}/payments.reborn/environments/production/on`);
    const recorded = await staleOnApproval(held, async () => {
      await direct('DELETE', `${FEATURES}/payments.reborn`);
      await direct('DELETE', '/api/admin/archive/payments.reborn');
      await direct('POST', FEATURES, { name: 'payments.reborn', type: 'release', description: 'another flag' });
    });
    expect(recorded.createdAt).toEqual(expect.stringMatching(/^\d{4}-\d\d-\d\dT/));
    expect(await enabledIn('payments.reborn', 'production')).toBe(false);
  });

  it("a switch-on: the environment's variants replaced meanwhile (variants-batch)", async () => {
    const variant = (value: string) => ({ name: 'checkout', weight: 1000, weightType: 'variable', stickiness: 'default', payload: { type: 'string', value } });
    await direct('POST', FEATURES, { name: 'payments.psp', type: 'release' });
    await direct('POST', `${FEATURES}/payments.psp/environments/production/strategies`, { name: 'default' });
    // Unleash 8.2 refuses environment variants on a flag that had none (`PUT …/variants`); a batch writes them all the same.
    await direct('PUT', `${FEATURES}/payments.psp/variants-batch`, { variants: [variant('psp=main')], environments: ['production'] });
    const held = await propose(`${FEATURES}/payments.psp/environments/production/on`);
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
    const held = await propose(`${FEATURES}/payments.gated/dependencies`, 'POST', { feature: 'ui.banner', enabled: false });
    const recorded = await staleOnApproval(held, async () => {
      // The parent has no children yet, so its switch-on is not held.
      const on = await fetch(`${app!.proxyUrl}${FEATURES}/ui.banner/environments/production/on`, { method: 'POST', headers: { authorization: `Bearer ${rita}`, ...context } });
      expect(on.status).toBe(200);
    });
    expect(recorded.parent).toMatchObject({ name: 'ui.banner', environments: { production: { enabled: false } } });
    expect(((await direct('GET', `${FEATURES}/payments.gated`)) as { dependencies: unknown[] }).dependencies).toEqual([]);
  });
});
