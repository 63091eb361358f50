/**
 * One sidecar in front of three platforms: the example flagd file under /flagd, a second flagd file
 * under /payments, and the LaunchDarkly double on a proxy port of its own. One policy, one ledger,
 * one chain: each change reaches the platform it was sent to and no other, its entries name that
 * platform, a held change is applied where it was made, and hostile paths reach no platform.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLaunchDarklyDouble, type LaunchDarklyDouble } from '../support/launchdarkly/double.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { exchangeBytes, parseResponse, serializeRequest } from '../support/raw-http.js';

const LD_TOKEN = 'api-multi-0123456789';
const context = { 'x-flaggate-reason': 'multi-platform test', 'x-flaggate-ticket': 'CHG-31' };

let double: LaunchDarklyDouble;
let app: TestFlaggate;
let release: string;
let second: string;
let auditor: string;

const file = (name: string) => readFileSync(`${app.dataDir}/${name}`, 'utf8');
const stateIn = (name: string, key: string) => (JSON.parse(file(name)) as { flags: Record<string, { state: string }> }).flags[key]?.state;
const entries = () => app.ledger.entriesAfter(0, 10_000) as unknown as Array<Record<string, unknown> & { decision: Record<string, unknown> }>;
const entriesOf = (decisionId: string | null) => entries().filter((e) => e.decision_id === decisionId);

async function send(url: string, method: string, token: string, body?: unknown) {
  const res = await fetch(url, {
    method,
    headers: { authorization: `Bearer ${token}`, ...context, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

/** A request on a bare socket, so the target goes out exactly as written (fetch resolves dot segments). */
async function raw(method: string, target: string, token: string) {
  const port = Number(new URL(app.proxyUrl).port);
  const bytes = serializeRequest({ method, target, headers: [['Authorization', `Bearer ${token}`], ['X-Flaggate-Reason', 'x'], ['X-Flaggate-Ticket', 'CHG-1']] }, `127.0.0.1:${port}`);
  const reply = parseResponse(await exchangeBytes(port, bytes));
  return { status: reply.status, decisionId: reply.headers['x-flaggate-decision-id'] ?? null, json: JSON.parse(reply.body.toString('utf8') || '{}') as Record<string, unknown> };
}

beforeAll(async () => {
  double = await startLaunchDarklyDouble({ token: LD_TOKEN });
  app = await startTestFlaggate({
    platforms: [
      { name: 'flagd', targetUrl: 'flags.flagd.json', pathPrefix: '/flagd' },
      { id: 'payments', name: 'flagd', targetUrl: 'payments.flagd.json', pathPrefix: '/payments' },
      { name: 'launchdarkly', targetUrl: double.url, targetToken: LD_TOKEN, proxyPort: 0 },
    ],
  });
  [release, second, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('sam', 'release_engineer'), app.token('ada', 'auditor')]);
}, 120_000);

afterAll(async () => {
  await app?.stop();
  await double?.stop();
}, 60_000);

describe('one sidecar, several platforms', () => {
  it('gives each platform its own address: a prefix on the proxy port, or a port of its own', () => {
    expect(app.proxyUrls).toEqual({
      flagd: `${app.proxyUrl}/flagd`,
      payments: `${app.proxyUrl}/payments`,
      launchdarkly: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
    });
    expect(app.proxyUrls.launchdarkly).not.toBe(app.proxyUrl);
  });

  it('applies a change to the platform under its prefix only, and the entries name that platform', async () => {
    const before = file('payments.flagd.json');
    const res = await send(`${app.proxyUrls.flagd}/flags/checkout.new-flow/enable`, 'POST', release);
    expect(res.status, JSON.stringify(res.json)).toBe(200);
    expect(stateIn('flags.flagd.json', 'checkout.new-flow')).toBe('ENABLED');
    expect(file('payments.flagd.json')).toBe(before);
    expect(entriesOf(res.decisionId).map((e) => [e.entry_type, e.platform])).toEqual([['change.decision', 'flagd'], ['change.outcome', 'flagd']]);
    expect(entriesOf(res.decisionId)[0]).toMatchObject({ request: { path: '/flags/checkout.new-flow/enable' } });

    const other = await send(`${app.proxyUrls.payments}/flags/checkout.new-flow/enable`, 'POST', release);
    expect(other.status).toBe(200);
    expect(stateIn('payments.flagd.json', 'checkout.new-flow')).toBe('ENABLED');
    expect(entriesOf(other.decisionId).map((e) => e.platform)).toEqual(['payments', 'payments']);
    // Its previous state was read from its own file: still disabled there, whatever the other file says.
    expect(entriesOf(other.decisionId)[0]).toMatchObject({ previous_state: { state: 'DISABLED' } });
  });

  it('routes a platform on its own port, recording its name', async () => {
    const res = await send(`${app.proxyUrls.launchdarkly}/api/v2/flags/default`, 'POST', release, { key: 'multi', name: 'Multi', variations: [{ value: true }, { value: false }] });
    expect(res.status, JSON.stringify(res.json)).toBe(201);
    expect(double.flag('default', 'multi')).toMatchObject({ key: 'multi' });
    expect(entriesOf(res.decisionId)[0]).toMatchObject({ platform: 'launchdarkly', action: 'flag.create', flag_key: 'multi' });
    // LaunchDarkly's paths mean nothing under the flagd prefixes, and are refused there.
    const stray = await send(`${app.proxyUrl}/flagd/api/v2/flags/default`, 'POST', release, { key: 'stray', name: 'S', variations: [{ value: true }, { value: false }] });
    expect(stray.status).toBe(403);
    expect(double.flag('default', 'stray')).toBeUndefined();
  });

  it.each([
    { name: 'a dot segment out of one prefix into another', target: '/flagd/../payments/flags/search.ranking-v2/disable', code: 'ADAPT_TARGET_REFUSED' },
    { name: 'an encoded dot segment', target: '/flagd/%2e%2e/payments/flags/search.ranking-v2/disable', code: 'ADAPT_TARGET_REFUSED' },
    { name: 'an encoded slash in the prefix', target: '/flagd%2F..%2Fpayments/flags/search.ranking-v2/disable', code: 'ADAPT_TARGET_REFUSED' },
    { name: 'an encoded slash after the prefix', target: '/payments/flags%2Fsearch.ranking-v2/disable', code: 'ADAPT_TARGET_REFUSED' },
    { name: 'an encoded backslash', target: '/payments%5Cflags/search.ranking-v2/disable', code: 'ADAPT_TARGET_REFUSED' },
    { name: 'a prefix spelt in another case', target: '/PAYMENTS/flags/search.ranking-v2/disable', code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a prefix run on into a longer segment', target: '/paymentsx/flags/search.ranking-v2/disable', code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a platform that is not here', target: '/unleash/api/admin/projects/default/features/x/environments/production/on', code: 'ADAPT_ROUTE_UNKNOWN' },
  ])('refuses $name before any platform sees it, and records the attempt', async ({ target, code }) => {
    const files = [file('flags.flagd.json'), file('payments.flagd.json')];
    const res = await raw('POST', target, release);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.json).toMatchObject({ code });
    expect([file('flags.flagd.json'), file('payments.flagd.json')]).toEqual(files);
    expect(entriesOf(res.decisionId)).toEqual([expect.objectContaining({ entry_type: 'change.decision', platform: 'unrouted', decision: expect.objectContaining({ allow: false, error_code: code }) })]);
  });

  it('holds a critical change made on one platform and applies it there once a second person approves', async () => {
    const held = await send(`${app.proxyUrls.payments}/flags/payments.instant-payouts/enable`, 'POST', release);
    expect(held.status, JSON.stringify(held.json)).toBe(202);
    expect(stateIn('payments.flagd.json', 'payments.instant-payouts')).toBe('DISABLED');
    const res = await fetch(`${app.controlUrl}/v1/changes/${String(held.json.changeRequestId)}/approve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${second}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'reviewed' }),
    });
    expect(res.status, await res.clone().text()).toBe(200);
    expect(stateIn('payments.flagd.json', 'payments.instant-payouts')).toBe('ENABLED');
    expect(stateIn('flags.flagd.json', 'payments.instant-payouts')).toBe('DISABLED');
    const trail = entries().filter((e) => e.change_request_id === held.json.changeRequestId);
    expect(trail.map((e) => e.platform)).toEqual(trail.map(() => 'payments'));
    expect(trail.at(-1)).toMatchObject({ entry_type: 'change.outcome', outcome: { status: 'applied' } });
  });

  it('watches each platform for drift on its own, naming it', async () => {
    const edited = JSON.parse(file('payments.flagd.json')) as { flags: Record<string, { state: string }> };
    edited.flags['search.ranking-v2']!.state = 'DISABLED';
    writeFileSync(`${app.dataDir}/payments.flagd.json`, JSON.stringify(edited));
    const found = await app.drift!.checkNow();
    expect(found.map((e) => [e.platform, e.flag_key])).toEqual([['payments', 'search.ranking-v2']]);
  });

  it('keeps one chain for every platform, and it verifies', async () => {
    const res = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true, chainId: 'local' });
    expect(new Set(entries().map((e) => e.platform))).toEqual(new Set(['flagd', 'payments', 'launchdarkly', 'unrouted']));
  });
});
