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

async function propose(path: string) {
  const res = await fetch(app!.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${rita}`, ...context } });
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (await res.json()) as Record<string, unknown> };
}

async function approve(url: string, token: string) {
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'reviewed' }) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const ledgerEntries = () => auditEntries(app!, auditor);

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
