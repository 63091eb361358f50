import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokenFor, hasChromium, launchChromium, screenshot, signInWithOidc, type ApiClient } from '../console/browser.js';
import type { TestFlaggate } from '../support/flaggate.js';
import { freePort, startTestProvider, type TestProvider } from '../support/oidc-provider.js';
import { unleashAdmin, unleashEnabledIn, type UnleashServer } from '../support/unleash.js';
import { startUnleashSidecar } from '../support/unleash-sidecar.js';

const FEATURES = '/api/admin/projects/default/features';
const FLAG = 'payments.payouts-v2';
let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer;
let app: TestFlaggate;
let browser: Browser | undefined;
let provider: TestProvider | undefined;
let cli: ApiClient;

beforeAll(async () => {
  if (!hasChromium) return;
  // One OpenID provider knows both people: the console signs them in with it, and the requester's
  // command-line tool gets its access token for the proxy from it, so both see the same `sub`.
  const controlPort = await freePort();
  const base = `http://127.0.0.1:${controlPort}`;
  const people = { rita: { name: 'Rita Requester', roles: ['release_engineer'] }, sam: { name: 'Sam Approver', roles: ['release_engineer'] } };
  const api = { indicator: 'https://flaggate.test/proxy', audience: 'flaggate-proxy' };
  provider = await startTestProvider({
    clientId: 'flaggate-console',
    clientSecret: 'console-secret',
    redirectUri: `${base}/console/callback`,
    people,
    otherClients: [{ clientId: 'flag-cli', clientSecret: 'cli-secret', redirectUri: 'http://127.0.0.1:7/cli-callback' }],
    api,
  });
  cli = { issuer: provider.issuer, clientId: 'flag-cli', clientSecret: 'cli-secret', redirectUri: 'http://127.0.0.1:7/cli-callback', resource: api.indicator };
  [{ unleash, app, stop }, browser] = await Promise.all([
    startUnleashSidecar({
      controlPort,
      'console.publicUrl': base,
      'console.oidc': { issuer: provider.issuer, clientId: 'flaggate-console', clientSecret: 'console-secret', scopes: 'openid profile roles' },
      // The proxy trusts only this provider's access tokens for its own audience.
      'identity.devIssuer': false,
      'identity.issuer': provider.issuer,
      'identity.audience': api.audience,
      'identity.jwksUrl': `${provider.issuer}/jwks`,
    }),
    launchChromium(),
  ]);
  await unleashAdmin(unleash, 'POST', FEATURES, { name: FLAG, type: 'release' });
  await unleashAdmin(unleash, 'POST', `${FEATURES}/${FLAG}/environments/production/strategies`, { name: 'default' });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stop?.();
  await provider?.stop();
}, 60_000);

describe.skipIf(!hasChromium)('the console in front of a real Unleash', () => {
  it("a colleague approves a held change to a critical flag in the browser, and Unleash is changed", async () => {
    const rita = await accessTokenFor(browser!, cli, 'rita');
    // A JWT access token for the proxy, naming her as her ID token at the console does.
    expect(JSON.parse(Buffer.from(rita.split('.')[1]!, 'base64url').toString())).toMatchObject({
      iss: cli.issuer, aud: 'flaggate-proxy', sub: 'rita', roles: ['release_engineer'],
    });
    const held = await fetch(`${app.proxyUrl}${FEATURES}/${FLAG}/environments/production/on`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rita}`, 'x-flaggate-reason': 'payouts v2 launch', 'x-flaggate-ticket': 'CHG-88' },
    });
    expect(held.status).toBe(202);
    const { changeRequestId } = (await held.json()) as { changeRequestId: string };
    expect(await unleashEnabledIn(unleash, FLAG, 'production')).toBe(false);

    // Each person in a browser of their own: the provider's session would otherwise sign the next one in as the last.
    const ritas = await browser!.newContext();
    ritas.setDefaultTimeout(15_000);
    const ritasPage = await ritas.newPage();

    // The requester sees Approve refused for being her own change; Unleash is untouched.
    await signInWithOidc(ritasPage, app.controlUrl, 'rita');
    expect(await ritasPage.locator('header').textContent()).toContain('Rita Requester (rita; release_engineer)');
    await ritasPage.getByRole('link', { name: FLAG }).click();
    await ritasPage.getByRole('button', { name: 'Approve' }).click();
    expect(await ritasPage.getByRole('alert').textContent()).toMatch(/APPROVAL_SELF/);
    expect(await unleashEnabledIn(unleash, FLAG, 'production')).toBe(false);
    await ritas.close();

    const context = await browser!.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await signInWithOidc(page, app.controlUrl, 'sam');
    expect(await page.locator('header').textContent()).toContain('Sam Approver (sam; release_engineer)');
    await page.getByRole('link', { name: FLAG }).click();
    await page.waitForURL(`**/console/changes/${changeRequestId}`);
    expect(await page.locator('section', { hasText: 'Before' }).textContent()).toMatch(/"enabled": false/);
    expect(await page.locator('section', { hasText: 'After' }).textContent()).toMatch(/"enabled": true/);
    await page.getByLabel('Reason').fill('payouts reviewed with finance');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.pathname === `/console/changes/${changeRequestId}` && url.search === '?done=approved');
    expect(await page.locator('#status').textContent()).toBe('applied');
    await screenshot(page, 'change-applied-unleash');
    expect(await unleashEnabledIn(unleash, FLAG, 'production')).toBe(true);
    await context.close();
  }, 60_000);
});
