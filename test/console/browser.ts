import { createHash, randomBytes } from 'node:crypto';
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

/**
 * Signs `login` in on the test OpenID provider's own development login and consent pages (any
 * password), on which `page` already is; the provider then sends the browser back to its client.
 */
export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login);
  await page.locator('input[name="password"]').fill('any');
  await page.getByRole('button', { name: 'Sign-in' }).click();
  await page.getByRole('button', { name: 'Continue' }).click();
}

/** Signs `login` in to the console through its OpenID Connect link and the provider's pages. */
export async function signInWithOidc(page: Page, base: string, login: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByRole('link', { name: 'Sign in' }).click();
  await signInAtProvider(page, login);
  await page.waitForURL(`${base}/console/`);
}

/** A client of the provider that asks for an access token to an API, as a person's command-line tool would. */
export interface ApiClient {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back; the browser answers it itself, nothing listens there. */
  redirectUri: string;
  /** The API's resource indicator (RFC 8707). */
  resource: string;
}

/**
 * An access token the provider issues to `login` for the API: the authorization code flow with
 * PKCE in a browser of its own (no session shared with other sign-ins), the code redeemed here.
 */
export async function accessTokenFor(browser: Browser, client: ApiClient, login: string): Promise<string> {
  const verifier = randomBytes(32).toString('base64url');
  const auth = new URL(`${client.issuer}/auth`);
  for (const [k, v] of Object.entries({
    client_id: client.clientId, response_type: 'code', scope: 'openid flags', redirect_uri: client.redirectUri, resource: client.resource,
    state: randomBytes(16).toString('base64url'), code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
  })) auth.searchParams.set(k, v);
  const context = await browser.newContext();
  context.setDefaultTimeout(10_000);
  const page = await context.newPage();
  await page.route(`${client.redirectUri}**`, (route) => route.fulfill({ status: 200, contentType: 'text/plain', body: 'signed in' }));
  await page.goto(auth.href);
  await signInAtProvider(page, login);
  await page.waitForURL((url) => url.href.startsWith(`${client.redirectUri}?`));
  const code = new URL(page.url()).searchParams.get('code');
  await context.close();
  if (!code) throw new Error(`the provider sent back no code for ${login}`);
  const res = await fetch(`${client.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: client.redirectUri, code_verifier: verifier, resource: client.resource }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`the provider issued no access token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}
