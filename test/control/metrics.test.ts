import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.js';
import { freePort } from '../support/postgres.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

const SCRAPE_TOKEN = 'scrape-0123456789abcdef';

describe('changeLabels', () => {
  const metrics = createMetrics({ environments: ['production', 'Staging'] });
  it.each([
    { change: { action: 'flag.enable', environment: 'production' }, want: { action: 'flag.enable', environment: 'production' } },
    { change: { action: 'flag.enable', environment: ' PRODUCTION ' }, want: { action: 'flag.enable', environment: 'production' } },
    { change: { action: 'strategy.update', environment: 'staging' }, want: { action: 'strategy.update', environment: 'staging' } },
    { change: { action: 'flag.read', environment: 'env-4b1d' }, want: { action: 'flag.read', environment: 'other' } },
    { change: { action: 'flag.archive', environment: '*' }, want: { action: 'flag.archive', environment: 'all' } },
    { change: { action: 'flag.read' }, want: { action: 'flag.read', environment: 'none' } },
    { change: { action: 'flag.pwn-4b1d', environment: 'production' }, want: { action: 'other', environment: 'production' } },
  ])('labels $change.action in $change.environment as $want.action in $want.environment', ({ change, want }) => {
    expect(metrics.changeLabels(change)).toEqual(want);
  });
});

describe('/metrics in front of Unleash, where the environment is a path segment the caller picks', () => {
  let app: TestFlaggate;
  let reader: string;
  beforeAll(async () => {
    // Nothing listens on the platform port: reads are decided and counted, then fail to forward.
    const platform = `http://127.0.0.1:${await freePort()}`;
    app = await startTestFlaggate({ 'platform.name': 'unleash', 'platform.targetUrl': platform, 'platform.timeoutMs': 1000, 'metrics.bearerToken': SCRAPE_TOKEN });
    reader = await app.token('quinn', 'qa');
  });
  afterAll(() => app?.stop());

  const scrape = (authorization?: string) => fetch(`${app.controlUrl}/metrics`, { headers: authorization === undefined ? {} : { authorization } });

  it('keeps the decision series bounded however many environment names callers send', async () => {
    for (let i = 0; i < 40; i++) {
      await fetch(`${app.proxyUrl}/api/admin/projects/default/features/search.v2/environments/env-${i}-${'x'.repeat(i)}`, { headers: { authorization: `Bearer ${reader}` } });
    }
    await fetch(`${app.proxyUrl}/api/admin/projects/default/features/search.v2/environments/production`, { headers: { authorization: `Bearer ${reader}` } });
    const text = await (await scrape(`Bearer ${SCRAPE_TOKEN}`)).text();
    const series = text.split('\n').filter((l) => l.startsWith('flaggate_decisions_total{'));
    expect(series).toEqual([
      'flaggate_decisions_total{result="allow",action="flag.read",environment="other"} 40',
      'flaggate_decisions_total{result="allow",action="flag.read",environment="production"} 1',
    ]);
    expect(text).not.toContain('env-');
  });

  it.each([
    { name: 'no credential', authorization: undefined },
    { name: 'another token', authorization: 'Bearer scrape-0123456789abcdeX' },
    { name: 'the token as a prefix', authorization: `Bearer ${SCRAPE_TOKEN.slice(0, -1)}` },
    { name: 'the token under another scheme', authorization: `Basic ${SCRAPE_TOKEN}` },
  ])('refuses a scrape with $name as CONTROL_METRICS_TOKEN_INVALID', async ({ authorization }) => {
    const res = await scrape(authorization);
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(await res.json()).toMatchObject({ code: 'CONTROL_METRICS_TOKEN_INVALID' });
  });

  it('serves the metrics to the configured token', async () => {
    const res = await scrape(`Bearer ${SCRAPE_TOKEN}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('# HELP flaggate_decisions_total ');
  });
});
