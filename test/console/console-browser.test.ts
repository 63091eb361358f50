import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyExport } from '../../src/audit/index.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
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

    await context.close();
  });

  it('lets an auditor filter the log, open an entry and its flag, and download an export that verifies offline', async () => {
    // A zone other than UTC, so that the local rendering of times is visible.
    const context = await browser.newContext({ timezoneId: 'Asia/Tokyo', acceptDownloads: true });
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await signInAs(page, s.app.controlUrl, 'ada', 'auditor');
    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.waitForURL('**/console/audit');
    expect(await page.locator('#verification').textContent()).toBe('verified');
    const time = page.locator('main table time').first();
    expect(await time.getAttribute('title')).toBe('2030-01-07 10:00:00 UTC');
    expect(await time.textContent()).toMatch(/7:00:00\s*PM GMT\+9|19:00:00 GMT\+9/);

    await page.getByLabel('Flag').fill(FLAG);
    await page.getByLabel('Outcome').selectOption('applied');
    await page.getByLabel('From (UTC day)').fill('2030-01-07');
    await page.getByLabel('To (UTC day, included)').fill('2030-01-07');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL((url) => url.searchParams.get('flag') === FLAG);
    const rows = page.locator('main table').nth(1).locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain('change.outcome');
    await screenshot(page, 'audit-log');

    // The package is built, sealed and signed before the download starts: slow on a busy machine.
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 45_000 }), page.getByRole('button', { name: 'Download export package' }).click()]);
    const file = join(s.dataDir, 'console-export.tar.gz');
    await download.saveAs(file);
    const dir = join(s.dataDir, 'console-export');
    mkdirSync(dir);
    await extract({ file, cwd: dir });
    expect(await verifyExport(dir, { verifyTokens: verifyCoverage })).toMatchObject({ ok: true });
    expect(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'))).toMatchObject({ filters: { flag: FLAG }, period: { from: '2030-01-07T00:00:00.000Z', to: '2030-01-08T00:00:00.000Z' } });

    await rows.first().getByRole('link', { name: /^Entry \d+$/ }).click();
    await page.waitForURL('**/console/audit/entries/*');
    expect(await page.locator('#entry-hash').textContent()).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.locator('#timestamp-token').textContent()).toContain('Token');
    expect(await page.getByRole('link', { name: /^Previous entry/ }).count()).toBe(1);
    await screenshot(page, 'audit-entry');

    await page.getByRole('link', { name: `Timeline of ${FLAG}` }).click();
    expect(await page.locator('ol.timeline').textContent()).toContain('change.approved');
    await screenshot(page, 'flag-timeline');

    await page.getByRole('link', { name: 'Fleet and policy' }).click();
    expect(await page.locator('#readiness').textContent()).toBe('ready');
    await screenshot(page, 'fleet');
    await context.close();
  }, 90_000);
});
