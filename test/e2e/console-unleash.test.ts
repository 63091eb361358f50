import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, screenshot, signInAs } from '../console/browser.js';
import type { TestFlaggate } from '../support/flaggate.js';
import { unleashAdmin, unleashEnabledIn, type UnleashServer } from '../support/unleash.js';
import { startUnleashSidecar } from '../support/unleash-sidecar.js';

const FEATURES = '/api/admin/projects/default/features';
const FLAG = 'payments.payouts-v2';
let stop: (() => Promise<void>) | undefined;
let unleash: UnleashServer;
let app: TestFlaggate;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!hasChromium) return;
  [{ unleash, app, stop }, browser] = await Promise.all([startUnleashSidecar(), launchChromium()]);
  await unleashAdmin(unleash, 'POST', FEATURES, { name: FLAG, type: 'release' });
  await unleashAdmin(unleash, 'POST', `${FEATURES}/${FLAG}/environments/production/strategies`, { name: 'default' });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stop?.();
}, 60_000);

describe.skipIf(!hasChromium)('the console in front of a real Unleash', () => {
  it("a colleague approves a held change to a critical flag in the browser, and Unleash is changed", async () => {
    const rita = await app.token('rita', 'release_engineer');
    const held = await fetch(`${app.proxyUrl}${FEATURES}/${FLAG}/environments/production/on`, {
      method: 'POST',
      headers: { authorization: `Bearer ${rita}`, 'x-flaggate-reason': 'payouts v2 launch', 'x-flaggate-ticket': 'CHG-88' },
    });
    expect(held.status).toBe(202);
    const { changeRequestId } = (await held.json()) as { changeRequestId: string };
    expect(await unleashEnabledIn(unleash, FLAG, 'production')).toBe(false);

    const context = await browser!.newContext();
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();

    // The requester sees Approve refused for being her own change; Unleash is untouched.
    await signInAs(page, app.controlUrl, 'rita', 'release_engineer');
    await page.getByRole('link', { name: FLAG }).click();
    await page.getByRole('button', { name: 'Approve' }).click();
    expect(await page.getByRole('alert').textContent()).toMatch(/APPROVAL_SELF/);
    expect(await unleashEnabledIn(unleash, FLAG, 'production')).toBe(false);
    await page.getByRole('button', { name: 'Sign out' }).click();

    await signInAs(page, app.controlUrl, 'sam', 'release_engineer');
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
