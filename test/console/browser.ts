import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { repoRoot } from '../policy/opa-bundle.js';

export const CHROMIUM = '/usr/bin/chromium';
/** Debian's chromium (scripts/setup-test-env.sh installs it); the browser tests skip without it. */
export const hasChromium = existsSync(CHROMIUM);

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox'] });
}

/** Writes docs/console/<name>.png when FLAGGATE_CONSOLE_SCREENSHOTS=1 (the README shows them). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.FLAGGATE_CONSOLE_SCREENSHOTS !== '1') return;
  const dir = join(repoRoot, 'docs', 'console');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Signs in through the development form, by its labels. */
export async function signInAs(page: Page, base: string, name: string, role: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Role').fill(role);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(`${base}/console/`);
}
