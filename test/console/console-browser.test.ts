import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, screenshot, signInAs } from './browser.js';
import { businessHours, startConsoleSidecar, type ConsoleSidecar } from './console-client.js';

const FLAG = 'payments.instant-payouts';
let s: ConsoleSidecar;
let browser: Browser;
let changeId: string;

function flagState(): string {
  const file = JSON.parse(readFileSync(join(s.dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> };
  return file.flags[FLAG]!.state;
}

describe.skipIf(!hasChromium)('the console in Chromium (development sign-in)', () => {
  beforeAll(async () => {
    [s, browser] = await Promise.all([startConsoleSidecar({}, businessHours()), launchChromium()]);
    changeId = await s.hold('rita');
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await s?.stop();
  });

  it('shows the requester their own change as not theirs to approve, and refuses the click with that reason', async () => {
    const page = await browser.newPage();
    page.setDefaultTimeout(5000);
    await signInAs(page, s.app.controlUrl, 'rita', 'release_engineer');
    await page.getByRole('link', { name: FLAG }).click();
    expect(await page.getByText('This is your own change').count()).toBe(1);
    await page.getByLabel('Reason').fill('please');
    await page.getByRole('button', { name: 'Approve' }).click();
    const alert = page.getByRole('alert');
    expect(await alert.textContent()).toMatch(/APPROVAL_SELF.*cannot approve their own change/);
    expect(await page.locator('#status').textContent()).toBe('pending');
    await screenshot(page, 'change-refused');
    await page.close();
  });

  it("lets a colleague sign in by the labels, see the before and after, approve, and see it applied", async () => {
    const context = await browser.newContext();
    context.setDefaultTimeout(5000);
    const page = await context.newPage();
    await signInAs(page, s.app.controlUrl, 'sam', 'release_engineer');
    const cookie = (await context.cookies()).find((c) => c.name === '__Host-flaggate-console')!;
    expect(cookie).toMatchObject({ httpOnly: true, secure: true, sameSite: 'Lax', path: '/' });
    await screenshot(page, 'pending-changes');
    expect(flagState()).toBe('DISABLED');

    await page.getByRole('link', { name: FLAG }).click();
    await page.waitForURL(`**/console/changes/${changeId}`);
    const before = await page.locator('section', { hasText: 'Before' }).textContent();
    const after = await page.locator('section', { hasText: 'After' }).textContent();
    expect(before).toContain('DISABLED');
    expect(after).toContain('ENABLED');
    await screenshot(page, 'change');

    await page.getByLabel('Reason').fill('checked with finance');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.pathname === `/console/changes/${changeId}` && url.search === '?done=approved');
    expect(await page.locator('#status').textContent()).toBe('applied');
    expect(flagState()).toBe('ENABLED');

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL('**/console/sign-in');
    await screenshot(page, 'sign-in');

    // An auditor reads the log and sees that it verifies, the approval in it.
    await signInAs(page, s.app.controlUrl, 'ada', 'auditor');
    await page.getByRole('link', { name: 'Audit log' }).click();
    expect(await page.locator('#verification').textContent()).toBe('verified');
    expect(await page.locator('main table').textContent()).toContain('change.approved');
    await screenshot(page, 'audit-log');
    await context.close();
  });
});
