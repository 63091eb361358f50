/**
 * The flag file flaggate writes, read by the real evaluator: OpenFeature's flagd provider in its
 * in-process mode with `offlineFlagSourcePath`, which loads the file with flagd-core and reloads it
 * when it changes (fs.watchFile, polled about every 5 s, so each reload below waits for the
 * provider's own CONFIGURATION_CHANGED event rather than a fixed delay).
 */
import { readFileSync } from 'node:fs';
import { FlagdProvider } from '@openfeature/flagd-provider';
import { OpenFeature, ProviderEvents, type Client, type EventDetails } from '@openfeature/server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

let app: TestFlaggate;
let release: string;
let client: Client;
const domain = 'flaggate-flagd-provider-test';
const flagPath = () => `${app.dataDir}/flags.flagd.json`;

async function change(method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'provider test', 'x-flaggate-ticket': 'CHG-7' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(app.proxyUrl + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

/** Resolves with the flags the provider reports changed at its next reload. */
function nextReload(): Promise<string[]> {
  return new Promise((resolve) => {
    const handler = (details?: EventDetails) => {
      client.removeHandler(ProviderEvents.ConfigurationChanged, handler);
      resolve(Array.isArray(details?.flagsChanged) ? details.flagsChanged.map(String) : []);
    };
    client.addHandler(ProviderEvents.ConfigurationChanged, handler);
  });
}

beforeAll(async () => {
  app = await startTestFlaggate();
  release = await app.token('riley', 'release_engineer');
  await OpenFeature.setProviderAndWait(domain, new FlagdProvider({ resolverType: 'in-process', offlineFlagSourcePath: flagPath() }));
  client = OpenFeature.getClient(domain);
});
afterAll(async () => {
  await OpenFeature.clearProviders();
  await app?.stop();
});

describe('the flagd provider reading the file flaggate writes', () => {
  it('loads the seeded file: the example flags evaluate as written', async () => {
    // flagd serves a disabled flag as the caller's default, with reason DISABLED.
    expect(await client.getBooleanDetails('checkout.new-flow', true)).toMatchObject({ value: true, reason: 'DISABLED' });
    const ranking = await client.getStringDetails('search.ranking-v2', 'none', { targetingKey: 'user-1' });
    expect(ranking).toMatchObject({ reason: 'TARGETING_MATCH' });
    expect(['v1', 'v2']).toContain(ranking.value);
  });

  it('evaluates changes applied through flaggate after its reload: a toggle, a targeting rule, a fractional rollout', { timeout: 30_000 }, async () => {
    const reloaded = nextReload();
    expect((await change('POST', '/flags/checkout.new-flow/enable')).status).toBe(200);
    const created = await change('POST', '/flags', {
      key: 'support.beta-inbox',
      state: 'ENABLED',
      variants: { on: true, off: false },
      defaultVariant: 'off',
      targeting: { if: [{ ends_with: [{ var: 'email' }, '@example.com'] }, 'on', 'off'] },
    });
    expect(created.status).toBe(201);
    const rollout = await change('PUT', '/flags/search.ranking-v2', {
      state: 'ENABLED',
      variants: { control: 'v1', treatment: 'v2' },
      defaultVariant: 'control',
      targeting: { fractional: [{ var: 'targetingKey' }, ['control', 0], ['treatment', 100]] },
    });
    expect(rollout.status).toBe(200);
    expect((await reloaded).sort()).toEqual(expect.arrayContaining(['checkout.new-flow']));
    // The provider may see the three writes in one reload or several; wait until it shows the last.
    await waitFor(async () => (await client.getStringValue('search.ranking-v2', 'none', { targetingKey: 'user-1' })) === 'v2');

    // Enabled: served from its default variant ("off") instead of the caller's default.
    expect(await client.getBooleanDetails('checkout.new-flow', true)).toMatchObject({ value: false, reason: 'STATIC', variant: 'off' });
    expect(await client.getBooleanDetails('support.beta-inbox', false, { email: 'ada@example.com' })).toMatchObject({ value: true, reason: 'TARGETING_MATCH', variant: 'on' });
    expect(await client.getBooleanDetails('support.beta-inbox', true, { email: 'eve@elsewhere.test' })).toMatchObject({ value: false, variant: 'off' });
    for (const user of ['user-1', 'user-2', 'user-3', 'user-4']) {
      expect(await client.getStringDetails('search.ranking-v2', 'none', { targetingKey: user })).toMatchObject({ value: 'v2', reason: 'TARGETING_MATCH', variant: 'treatment' });
    }
  });

  it('refuses a change flagd would not load before writing it: the file and the provider keep the last good flags', { timeout: 30_000 }, async () => {
    const before = readFileSync(flagPath(), 'utf8');
    const mixed = await change('PUT', '/flags/checkout.new-flow', { state: 'ENABLED', variants: { on: true, off: 'no' }, defaultVariant: 'on' });
    expect(mixed).toMatchObject({ status: 422, json: { code: 'ADAPT_FLAGD_INVALID' } });
    expect(String(mixed.json.message)).toContain('/flags/checkout.new-flow/variants/off');
    // A $ref the file does not define passes the schema alone; the whole-file check refuses it.
    const dangling = await change('PUT', '/flags/checkout.new-flow', {
      state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', targeting: { if: [{ $ref: 'isStaff' }, 'on', 'off'] },
    });
    expect(dangling).toMatchObject({ status: 422, json: { code: 'ADAPT_FLAGD_INVALID' } });
    expect(readFileSync(flagPath(), 'utf8')).toBe(before);

    // Both are on record: the first refused before a decision, the second decided and not applied.
    const auditor = await app.token('ada', 'auditor');
    const res = await fetch(`${app.controlUrl}/v1/audit/entries?limit=1000`, { headers: { authorization: `Bearer ${auditor}` } });
    const entries = ((await res.json()) as { entries: Array<Record<string, unknown>> }).entries;
    expect(entries.filter((e) => (e.decision as { error_code?: string } | undefined)?.error_code === 'ADAPT_FLAGD_INVALID')).toHaveLength(1);
    expect(entries.at(-1)).toMatchObject({ entry_type: 'change.outcome', outcome: { status: 'failed', error_code: 'ADAPT_FLAGD_INVALID' } });
    expect(await client.getBooleanDetails('checkout.new-flow', true)).toMatchObject({ value: false, reason: 'STATIC', variant: 'off' });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('the provider did not reload in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
