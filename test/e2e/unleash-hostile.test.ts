/**
 * Hostile encodings sent on raw sockets through flaggate to a real Unleash 8.2: each would once
 * have made Unleash apply another change than the one the policy decided and the ledger recorded.
 * Every one must now be refused, recorded, and leave Unleash as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { mintDevToken } from '../../src/identify/index.js';
import type { TestFlaggate } from '../support/flaggate.js';
import { sendRaw } from '../support/raw-socket.js';
import { unleashAdmin, type UnleashServer } from '../support/unleash.js';
import { auditEntries, startUnleashSidecar } from '../support/unleash-sidecar.js';

let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer | undefined;
let app: TestFlaggate | undefined;
let release: string;
let auditor: string;

const FEATURES = '/api/admin/projects/default/features';
const FLAG = 'payments.instant-payouts';

const flagState = () => unleashAdmin(unleash!, 'GET', `${FEATURES}/${FLAG}`);

function head(method: string, target: string, token: string, extra: string[] = []): string {
  return [`${method} ${target} HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${token}`, 'x-flaggate-reason: r', 'x-flaggate-ticket: CHG-1', ...extra].join('\r\n');
}

beforeAll(async () => {
  ({ unleash, app, stop } = await startUnleashSidecar());
  [release, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('ada', 'auditor')]);
  await unleashAdmin(unleash, 'POST', FEATURES, { name: FLAG, type: 'release', description: 'before' });
  await unleashAdmin(unleash, 'POST', `${FEATURES}/${FLAG}/environments/development/strategies`, {
    name: 'flexibleRollout', parameters: { rollout: '10', stickiness: 'default', groupId: FLAG },
  });
}, 240_000);

afterAll(async () => {
  await stop?.();
}, 60_000);

describe('hostile requests through flaggate to a real Unleash', () => {
  it.each([
    { name: 'a fragment that would turn a strategy delete into a feature archive', method: 'DELETE',
      target: `${FEATURES}/${FLAG}#/environments/development/strategies/s1`, code: 'ADAPT_TARGET_REFUSED' },
    { name: 'a fragment hiding a second query value', method: 'POST',
      target: `${FEATURES}/${FLAG}/environments/development/on?shouldActivateDisabledStrategies=false#&shouldActivateDisabledStrategies=true`, code: 'ADAPT_TARGET_REFUSED' },
    { name: 'a duplicated query parameter', method: 'POST',
      target: `${FEATURES}/${FLAG}/environments/development/on?shouldActivateDisabledStrategies=false&shouldActivateDisabledStrategies=true`, code: 'ADAPT_QUERY_REFUSED' },
  ])('refuses $name and Unleash is unchanged', async ({ method, target, code }) => {
    const before = await flagState();
    const res = await sendRaw(app!.proxyUrl, head(method, target, release));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code });
    const after = await flagState();
    expect(after.archived ?? false).toBe(false);
    expect(after.environments).toEqual(before.environments);
    const id = /x-flaggate-decision-id: ([0-9a-f-]+)/i.exec(res.headers)?.[1];
    const mine = (await auditEntries(app!, auditor)).filter((e) => e.decision_id === id);
    expect(mine).toMatchObject([{ entry_type: 'change.decision', decision: { allow: false, error_code: code } }]);
  });

  // Unleash's route validator runs Ajv with coerceTypes over the body before its handler reads it.
  it.each([
    { name: 'an inverted constraint written as a string', field: '/constraints/0/inverted',
      body: { name: 'flexibleRollout', parameters: { rollout: '10' }, constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'], inverted: 'true' }] },
      stored: (s: Record<string, unknown>) => (s.constraints as Array<Record<string, unknown>>)[0]!.inverted },
    { name: 'a disabled strategy written as 0', field: '/disabled',
      body: { name: 'flexibleRollout', parameters: { rollout: '10' }, disabled: 0 },
      stored: (s: Record<string, unknown>) => s.disabled },
  ])('refuses $name, which Unleash would coerce to another type', async ({ body, field, stored }) => {
    const strategies = `${FEATURES}/${FLAG}/environments/development/strategies`;
    // Sent to Unleash itself, the value is stored in its schema's type: not what the body says.
    const direct = await unleashAdmin(unleash!, 'POST', strategies, body);
    expect(typeof stored(direct)).toBe('boolean');
    expect(stored(direct)).not.toBe(field === '/disabled' ? body.disabled : body.constraints![0]!.inverted);
    await unleashAdmin(unleash!, 'DELETE', `${strategies}/${direct.id}`);
    const before = await flagState();
    const res = await sendRaw(app!.proxyUrl, head('POST', strategies, release, ['content-type: application/json']), JSON.stringify(body));
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ADAPT_BODY_MALFORMED', details: { field } });
    expect((await flagState()).environments).toEqual(before.environments);
  });

  /** Sends a JSON write through flaggate; returns the status, the body and the entries of its decision. */
  async function through(method: string, target: string, body?: unknown) {
    const res = await sendRaw(app!.proxyUrl, head(method, target, release, body === undefined ? [] : ['content-type: application/json']), body === undefined ? undefined : JSON.stringify(body));
    const id = /x-flaggate-decision-id: ([0-9a-f-]+)/i.exec(res.headers)?.[1];
    const entries = (await auditEntries(app!, auditor)).filter((e) => e.decision_id === id);
    return { status: res.status, body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {}, entries };
  }

  it('records variant weights as Unleash stores them (shared out, sorted), not as sent', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.weights', type: 'experiment' });
    const sent = await through('PUT', `${FEATURES}/search.weights/variants-batch`, {
      environments: ['development'],
      variants: [{ name: 'treatment', weight: 100 }, { name: 'control', weight: 900 }],
    });
    expect(sent.status).toBe(200);
    const development = (await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.weights/environments/development/variants`)) as { variants: Array<Record<string, unknown>> };
    const recorded = (sent.entries[0]!.new_state as { variants: Array<Record<string, unknown>> }).variants;
    expect(recorded.map(({ name, weight }) => ({ name, weight }))).toEqual([{ name: 'control', weight: 500 }, { name: 'treatment', weight: 500 }]);
    expect(development.variants.map(({ name, weight }) => ({ name, weight }))).toEqual(recorded.map(({ name, weight }) => ({ name, weight })));
  });

  it('refuses a variants batch naming an environment twice, which Unleash fails after storing its events', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.twice', type: 'experiment' });
    const body = { environments: ['development', 'development'], variants: [{ name: 'treatment', weight: 1000 }] };
    // Sent to Unleash itself: its upsert fails on the second mention, after the events were stored.
    await expect(unleashAdmin(unleash!, 'PUT', `${FEATURES}/search.twice/variants-batch`, body)).rejects.toThrow(/: 500 /);
    const events = (await unleashAdmin(unleash!, 'GET', '/api/admin/events/search.twice')) as { events: Array<{ type: string }> };
    expect(events.events.filter((e) => e.type === 'feature-environment-variants-updated')).toHaveLength(2);
    const sent = await through('PUT', `${FEATURES}/search.twice/variants-batch`, body);
    expect(sent.status).toBe(400);
    expect(sent.body).toMatchObject({ code: 'ADAPT_BODY_MALFORMED', details: { field: 'environments' } });
  });

  it('records what a feature PUT resets (type, stale, impression data), as Unleash stores it', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.reset', type: 'kill-switch', impressionData: true });
    const sent = await through('PUT', `${FEATURES}/search.reset`, { description: 'only this' });
    expect(sent.status).toBe(200);
    const stored = await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.reset`);
    expect(sent.entries[0]!.new_state).toEqual({ name: stored.name, description: 'only this', type: stored.type, stale: stored.stale, impressionData: stored.impressionData });
    expect(stored).toMatchObject({ type: 'release', impressionData: false });
  });

  it('refuses a dependency on a new parent while the flag has another, which Unleash would delete', async () => {
    for (const name of ['search.parent-a', 'search.parent-b', 'search.child']) await unleashAdmin(unleash!, 'POST', FEATURES, { name });
    await unleashAdmin(unleash!, 'POST', `${FEATURES}/search.child/dependencies`, { feature: 'search.parent-a' });
    const sent = await through('POST', `${FEATURES}/search.child/dependencies`, { feature: 'search.parent-b' });
    expect(sent.status).toBe(409);
    expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH', details: { parents: ['search.parent-a'] } });
    const child = await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.child`);
    expect((child.dependencies as Array<{ feature: string }>).map((d) => d.feature)).toEqual(['search.parent-a']);
  });

  it('refuses deleting the last active strategy of an enabled environment, which Unleash would switch off', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.last' });
    const strategy = await unleashAdmin(unleash!, 'POST', `${FEATURES}/search.last/environments/development/strategies`, { name: 'default' });
    await unleashAdmin(unleash!, 'POST', `${FEATURES}/search.last/environments/development/on`);
    const sent = await through('DELETE', `${FEATURES}/search.last/environments/development/strategies/${String(strategy.id)}`);
    expect(sent.status).toBe(409);
    expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH', details: { environment: 'development' } });
    const stored = await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.last`);
    expect((stored.environments as Array<{ name: string; enabled: boolean }>).find((e) => e.name === 'development')?.enabled).toBe(true);
  });

  it("records the project's stickiness a flexible rollout left without one gets, refuses one patched empty, and records no sort order an update does not write", async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.sticky' });
    const strategies = `${FEATURES}/search.sticky/environments/development/strategies`;
    // Sent to Unleash itself, an empty stickiness is stored as the project's default.
    const direct = await unleashAdmin(unleash!, 'POST', strategies, { name: 'flexibleRollout', parameters: { rollout: '10', stickiness: '', groupId: 'g' } });
    expect(direct.parameters).toMatchObject({ stickiness: 'default' });
    // Through flaggate too (Unleash's UI applies a flexible rollout with empty parameters), and the
    // entry records the stickiness it gets as the project's default.
    const created = await through('POST', strategies, { name: 'flexibleRollout', parameters: { rollout: '20', stickiness: '', groupId: 'g' } });
    expect(created.status).toBe(200);
    expect(created.entries[0]!.previous_state).toMatchObject({ environments: { development: { defaultStickiness: 'default' } } });
    const stored = (await unleashAdmin(unleash!, 'GET', `${strategies}/${String((created.body as { id: string }).id)}`)) as { parameters: Record<string, string> };
    expect(stored.parameters.stickiness).toBe('default');
    const path = `${strategies}/${String(direct.id)}`;
    for (const member of ['stickiness', 'groupId']) {
      const patched = await through('PATCH', path, [{ op: 'replace', path: `/parameters/${member}`, value: '' }]);
      expect(patched.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    }
    const other = await unleashAdmin(unleash!, 'POST', strategies, { name: 'default' });
    const order = async () => ((await unleashAdmin(unleash!, 'GET', strategies)) as unknown as Array<{ id: string; sortOrder: number; parameters: Record<string, string> }>);
    const before = await order();
    const put = await through('PUT', `${strategies}/${String(other.id)}`, { name: 'default', sortOrder: -5 });
    expect(put.status).toBe(200);
    expect(put.entries[0]!.new_state).not.toHaveProperty('sortOrder');
    const after = await order();
    expect(after.map((x) => [x.id, x.sortOrder])).toEqual(before.map((x) => [x.id, x.sortOrder]));
    expect(after.find((x) => x.id === direct.id)?.parameters).toEqual({ rollout: '10', stickiness: 'default', groupId: 'g' });
  });

  it("records the strategy Unleash adds when it switches on an environment without an active one: the project's default", async () => {
    const defaultStrategy = `/api/admin/projects/default/environments/production/default-strategy`;
    const variant = (name: string, weight: number) => ({ name, weight, weightType: 'variable', stickiness: 'default' });
    await unleashAdmin(unleash!, 'POST', defaultStrategy, {
      name: 'flexibleRollout', title: 'house default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['only-this-user'] }],
      parameters: { rollout: '5', stickiness: '', groupId: '' }, variants: [variant('b', 900), variant('a', 100)],
    });
    try {
      await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.bare' });
      const sent = await through('POST', `${FEATURES}/search.bare/environments/production/on`);
      expect(sent.status).toBe(200);
      const [added] = (await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.bare/environments/production/strategies`)) as unknown as Array<Record<string, unknown>>;
      const recorded = (sent.entries[0]!.previous_state as { environments: Record<string, { strategies: unknown[]; addedOnEnable: Record<string, unknown> }> }).environments.production!;
      expect(recorded.strategies).toEqual([]);
      const created = Object.fromEntries(['name', 'title', 'parameters', 'constraints', 'variants'].map((k) => [k, added![k]]));
      expect(recorded.addedOnEnable).toMatchObject(created);
      expect(recorded.addedOnEnable).toMatchObject({ constraints: [{ contextName: 'userId', operator: 'IN', values: ['only-this-user'] }], title: 'house default' });
      // Unleash weighs a new strategy's variable variants equally and sorts them by name.
      expect((recorded.addedOnEnable.variants as Array<{ name: string; weight: number }>).map((v) => [v.name, v.weight])).toEqual([['a', 500], ['b', 500]]);
      expect(added!.parameters).toEqual({ rollout: '5', stickiness: 'default', groupId: 'search.bare' });
      // With a strategy active, nothing is added and nothing is recorded as added.
      const again = await through('POST', `${FEATURES}/search.bare/environments/production/on`);
      expect((again.entries[0]!.previous_state as { environments: Record<string, object> }).environments.production).not.toHaveProperty('addedOnEnable');
    } finally {
      await unleashAdmin(unleash!, 'POST', defaultStrategy, { name: 'flexibleRollout', constraints: [], parameters: { rollout: '100', stickiness: 'default', groupId: '' } });
    }
  });

  it('refuses reviving a live flag, which Unleash would switch off in every environment', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.live' });
    await unleashAdmin(unleash!, 'POST', `${FEATURES}/search.live/environments/development/strategies`, { name: 'default' });
    await unleashAdmin(unleash!, 'POST', `${FEATURES}/search.live/environments/development/on`);
    const sent = await through('POST', '/api/admin/archive/revive/search.live');
    expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH' });
    const stored = await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.live`);
    expect((stored.environments as Array<{ name: string; enabled: boolean }>).find((e) => e.name === 'development')?.enabled).toBe(true);
  });

  it('refuses an archive or stale of several flags naming one that is not live in the project, which Unleash skips or changes unseen', async () => {
    for (const name of ['batch.live', 'batch.archived', 'batch.direct', 'batch.direct-archived']) await unleashAdmin(unleash!, 'POST', FEATURES, { name });
    for (const name of ['batch.archived', 'batch.direct-archived']) await unleashAdmin(unleash!, 'DELETE', `${FEATURES}/${name}`);
    const archivedStale = async (name: string) => {
      const found = (await unleashAdmin(unleash!, 'GET', `/api/admin/search/features?query=${name}&archived=IS:true`)) as { features: Array<{ name: string; stale: boolean }> };
      return found.features.find((f) => f.name === name)?.stale;
    };
    // What Unleash does with such a batch, sent to it directly: it answers 202 and marks the
    // archived flag stale, and skips the one it lacks.
    await unleashAdmin(unleash!, 'POST', '/api/admin/projects/default/stale', { features: ['batch.direct', 'batch.direct-archived', 'batch.none'], stale: true });
    expect(await archivedStale('batch.direct-archived')).toBe(true);

    for (const [verb, extra] of [['stale', { stale: true }], ['archive', {}]] as const) {
      for (const other of ['batch.archived', 'batch.none']) {
        const sent = await through('POST', `/api/admin/projects/default/${verb}`, { features: ['batch.live', other], ...extra });
        expect(sent.status, `${verb} ${other}`).toBe(409);
        expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH', details: { flag: other } });
        expect(sent.entries.map((e) => e.entry_type)).toEqual(['change.decision']);
      }
    }
    // Nothing was applied: the live flag is neither stale nor archived, the archived one not stale.
    expect(await unleashAdmin(unleash!, 'GET', `${FEATURES}/batch.live`)).toMatchObject({ stale: false, archived: false });
    expect(await archivedStale('batch.archived')).toBe(false);
    // Naming live flags of the project only, both pass and are applied as recorded.
    const stale = await through('POST', '/api/admin/projects/default/stale', { features: ['batch.live'], stale: true });
    expect(stale.entries.at(-1)).toMatchObject({ entry_type: 'change.outcome', outcome: { status: 'applied' } });
    expect(await unleashAdmin(unleash!, 'GET', `${FEATURES}/batch.live`)).toMatchObject({ stale: true });
  });

  it("refuses a strategy for an environment the flag's project does not have, which Unleash keeps unseen and serves once it is back", async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.envless' });
    await unleashAdmin(unleash!, 'DELETE', '/api/admin/projects/default/environments/production');
    try {
      const strategies = `${FEATURES}/search.envless/environments/production/strategies`;
      const sent = await through('POST', strategies, { name: 'flexibleRollout', parameters: { rollout: '30', stickiness: 'default', groupId: 'search.envless' } });
      expect(sent.status).toBe(409);
      expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_MISMATCH', details: { environment: 'production' } });
      // Sent to Unleash itself, it is answered 200 and kept where no read shows it.
      await unleashAdmin(unleash!, 'POST', strategies, { name: 'default', parameters: {} });
      const read = (await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.envless`)) as { environments: Array<{ name: string }> };
      expect(read.environments.map((e) => e.name)).not.toContain('production');
    } finally {
      await unleashAdmin(unleash!, 'POST', '/api/admin/projects/default/environments', { environment: 'production' });
    }
    // Back on the project, the one Unleash took directly is there; the refused one is not.
    const back = (await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.envless`)) as { environments: Array<{ name: string; strategies: Array<{ name: string }> }> };
    expect(back.environments.find((e) => e.name === 'production')?.strategies.map((s) => s.name)).toEqual(['default']);
  });

  it('refuses a segment id spelled with a leading zero, which Unleash reads as the segment it names', async () => {
    const segment = await unleashAdmin(unleash!, 'POST', '/api/admin/segments', { name: 'seg-zero', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a'] }] });
    const sent = await through('PUT', `/api/admin/segments/0${String(segment.id)}`, { name: 'seg-zero', constraints: [{ contextName: 'userId', operator: 'IN', values: ['a', 'b'] }] });
    expect(sent.body).toMatchObject({ code: 'ADAPT_TARGET_REFUSED' });
    const stored = await unleashAdmin(unleash!, 'GET', `/api/admin/segments/${String(segment.id)}`);
    expect(stored.constraints).toMatchObject([{ values: ['a'] }]);
  });

  it('refuses a patch path that is not a JSON Pointer: Unleash applies "x/archived" as /archived and archives the flag', async () => {
    for (const name of ['search.pointer', 'search.pointer-direct']) await unleashAdmin(unleash!, 'POST', FEATURES, { name });
    const patch = [{ op: 'replace', path: 'x/archived', value: true }];
    // Sent to Unleash itself, the flag is archived by a metadata update.
    const direct = await fetch(`${unleash!.url}${FEATURES}/search.pointer-direct`, { method: 'PATCH', headers: { authorization: unleash!.adminToken, 'content-type': 'application/json' }, body: JSON.stringify(patch) });
    expect(((await direct.json()) as { archived: boolean }).archived).toBe(true);
    const sent = await through('PATCH', `${FEATURES}/search.pointer`, patch);
    expect(sent.status).toBe(400);
    expect(sent.body).toMatchObject({ code: 'ADAPT_BODY_MALFORMED' });
    expect((await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.pointer`)).archived ?? false).toBe(false);
  });

  it('refuses a body whose charset Unleash would read as UTF-7, and no second name appears', async () => {
    // body-parser takes the last charset; "+ACIALAAi-name+ACI-:+ACI-payments.evil" is `","name":"payments.evil` in UTF-7.
    const body = '{"name":"harmless.flag","description":"+ACIALAAi-name+ACI-:+ACI-payments.evil+ACI-"}';
    const res = await sendRaw(app!.proxyUrl, head('POST', FEATURES, release, ['content-type: application/json; charset=utf-8; charset=utf-7']), body);
    expect(res.status).toBe(415);
    expect(JSON.parse(res.body)).toMatchObject({ code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' });
    const evil = await fetch(`${unleash!.url}${FEATURES}/payments.evil`, { headers: { authorization: unleash!.adminToken } });
    expect(evil.status).toBe(404);
    const harmless = await fetch(`${unleash!.url}${FEATURES}/harmless.flag`, { headers: { authorization: unleash!.adminToken } });
    expect(harmless.status).toBe(404);
  });

  it('forwards an oddly spelled allowed change as the canonical request it recorded', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.v4', type: 'release', description: 'before' });
    const res = await sendRaw(
      app!.proxyUrl,
      head('PUT', '/API/Admin/Projects/default/Features/search%2Ev4/', release, [
        'content-type: Application/JSON; charset="utf-8"',
        'forwarded: for=10.0.0.1;host=evil',
        'x-forwarded-host: evil.example',
      ]),
      JSON.stringify({ description: 'after' }),
    );
    expect(res.status).toBe(200);
    const state = await unleashAdmin(unleash!, 'GET', `${FEATURES}/search.v4`);
    expect(state.description).toBe('after');
    const id = /x-flaggate-decision-id: ([0-9a-f-]+)/i.exec(res.headers)?.[1];
    const mine = (await auditEntries(app!, auditor)).filter((e) => e.decision_id === id);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[0]).toMatchObject({ flag_key: 'search.v4', request: { method: 'PUT', path: `${FEATURES}/search.v4` }, new_state: { description: 'after' } });
    expect(mine[1]).toMatchObject({ outcome: { status: 'applied' } });
  });

  it('passes a validate operation (a POST that changes nothing) as a read, recording no decision', async () => {
    const before = (await auditEntries(app!, auditor)).length;
    const res = await sendRaw(app!.proxyUrl, head('POST', '/api/admin/features/validate', release, ['content-type: application/json']), JSON.stringify({ name: 'not.yet.a.flag' }));
    expect(res.status).toBe(200);
    expect((await auditEntries(app!, auditor)).length).toBe(before);
  });

  it('takes reason and ticket from token claims when a tool cannot send headers, and records them', async () => {
    await unleashAdmin(unleash!, 'POST', FEATURES, { name: 'search.v5', type: 'release', description: 'before' });
    const token = await mintDevToken({ dataDir: app!.dataDir, sub: 'pipeline', roles: ['release_engineer'], clock: systemClock, claims: { reason: 'nightly sync', ticket: 'CHG-77' } });
    const res = await sendRaw(
      app!.proxyUrl,
      [`PUT ${FEATURES}/search.v5 HTTP/1.1`, 'host: 127.0.0.1', `authorization: Bearer ${token}`, 'content-type: application/json'].join('\r\n'),
      JSON.stringify({ description: 'after' }),
    );
    expect(res.status).toBe(200);
    const id = /x-flaggate-decision-id: ([0-9a-f-]+)/i.exec(res.headers)?.[1];
    const [decision] = (await auditEntries(app!, auditor)).filter((e) => e.decision_id === id);
    expect(decision).toMatchObject({ reason: 'nightly sync', linked_artifacts: { ticket: 'CHG-77' } });
  });
});
