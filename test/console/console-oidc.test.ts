import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { createOidcSignIn } from '../../src/console/oidc.js';
import { freePort, startTestProvider, type TestProvider } from '../support/oidc-provider.js';
import { hasChromium, launchChromium, signInAtProvider, signInWithOidc } from './browser.js';
import { ConsoleClient, startConsoleSidecar, type ConsoleSidecar } from './console-client.js';

const FLAG = 'payments.instant-payouts';
let provider: TestProvider;
let s: ConsoleSidecar;
let browser: Browser | undefined;

beforeAll(async () => {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  provider = await startTestProvider({
    clientId: 'flaggate-console',
    clientSecret: 'console-secret',
    redirectUri: `${base}/console/callback`,
    people: { sam: { name: 'Sam Approver', roles: ['release_engineer'] }, rita: { name: 'Rita Requester', roles: ['release_engineer'] } },
    // Another application at the same provider: its ID tokens are signed by the same keys, for another audience.
    otherClients: [{ clientId: 'wiki', clientSecret: 'wiki-secret', redirectUri: `${base}/console/callback` }],
  });
  [s, browser] = await Promise.all([
    startConsoleSidecar({
      controlPort: port,
      'console.publicUrl': base,
      'console.oidc': { issuer: provider.issuer, clientId: 'flaggate-console', clientSecret: 'console-secret', scopes: 'openid profile roles' },
    }),
    hasChromium ? launchChromium() : Promise.resolve(undefined),
  ]);
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await s?.stop();
  await provider?.stop();
});

describe('console sign-in through OpenID Connect', () => {
  it('sends the browser to the provider with PKCE S256, state and nonce, bound to a __Host- cookie', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    expect(await (await client.get('/console/sign-in')).text()).toContain('href="/console/sign-in/oidc"');
    const res = await client.get('/console/sign-in/oidc');
    expect(res.status).toBe(303);
    const url = new URL(res.headers.get('location')!);
    expect(url.origin).toBe(provider.issuer);
    expect(url.searchParams.get('response_type')).toBe('code');
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('code_challenge')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    expect(url.searchParams.get('redirect_uri')).toBe(`${s.app.controlUrl}/console/callback`);
    expect(client.cookies.has('__Host-flaggate-sign-in')).toBe(true);
  });

  it('refuses a callback with no sign-in under way in this browser', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    const res = await client.get('/console/callback?code=abc&state=xyz');
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('CONSOLE_SIGN_IN_FAILED');
  });

  it('refuses a callback whose state is not the one this browser was sent with, and the sign-in is spent', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.get('/console/sign-in/oidc');
    const cookie = client.cookieHeader();
    const res = await client.get('/console/callback?code=abc&state=forged');
    expect(res.status).toBe(401);
    expect(await res.text()).toContain('CONSOLE_SIGN_IN_FAILED');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-flaggate-console='))).toBe(false);
    // Replaying the same browser's cookie finds nothing: each sign-in is used once.
    const again = await fetch(`${s.app.controlUrl}/console/callback?code=abc&state=forged`, { headers: { cookie }, redirect: 'manual' });
    expect(await again.text()).toContain('no sign-in is under way');
  });

  it.skipIf(!hasChromium)('signs a person in at the provider, maps their roles like the proxy, and their approval applies the change', async () => {
    const changeId = await s.hold('rita');
    const context = await browser!.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await signInWithOidc(page, s.app.controlUrl, 'sam');
    expect(await page.locator('header').textContent()).toContain('Sam Approver (sam; release_engineer)');
    expect(await page.locator('body').textContent()).not.toContain('Development only');

    await page.getByRole('link', { name: FLAG }).click();
    await page.getByLabel('Reason').fill('reviewed');
    await page.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL((url) => url.pathname === `/console/changes/${changeId}`);
    expect(await page.locator('#status').textContent()).toBe('applied');
    const file = JSON.parse(readFileSync(join(s.dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> };
    expect(file.flags[FLAG]!.state).toBe('ENABLED');
    await context.close();
  }, 30_000);

  /** Signs `login` in at the provider for an authorization URL; the callback URL it sends the browser to. */
  async function callbackFor(authorizationUrl: string, login: string): Promise<string> {
    const context = await browser!.newContext();
    context.setDefaultTimeout(10_000);
    const page = await context.newPage();
    await page.goto(authorizationUrl);
    await signInAtProvider(page, login);
    // The browser carries no sign-in cookie of flaggate's here, so flaggate refuses it before
    // redeeming the code: the code is still unused when the test redeems it.
    await page.waitForURL('**/console/callback**');
    const callback = page.url();
    await context.close();
    return callback;
  }

  it.skipIf(!hasChromium)('refuses a code redeemed without its PKCE verifier, and an ID token for another nonce', async () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: s.dataDir } });
    const oidc = createOidcSignIn(
      { issuer: provider.issuer, clientId: 'flaggate-console', clientSecret: 'console-secret', scopes: 'openid profile roles' },
      config.identity,
      systemClock,
    );
    const redirect = `${s.app.controlUrl}/console/callback`;

    const first = await oidc.start(redirect);
    const url = await callbackFor(first.url, 'sam');
    await expect(oidc.finish(url, { ...first.checks, codeVerifier: 'x'.repeat(43) })).rejects.toMatchObject({ code: 'CONSOLE_SIGN_IN_FAILED', message: expect.stringMatching(/PKCE|code_verifier|invalid_grant/i) });

    const second = await oidc.start(redirect);
    const url2 = await callbackFor(second.url, 'sam');
    await expect(oidc.finish(url2, { ...second.checks, nonce: 'another-sign-in' })).rejects.toMatchObject({ code: 'CONSOLE_SIGN_IN_FAILED', message: expect.stringMatching(/nonce|unexpected JWT claim value/i) });

    // The same flow with its own values signs in: the refusals above are the checks, not the setup.
    const third = await oidc.start(redirect);
    expect(await oidc.finish(await callbackFor(third.url, 'sam'), third.checks)).toMatchObject({ id: 'sam', authMethod: 'oidc', roles: ['release_engineer'] });
  }, 40_000);

  it.skipIf(!hasChromium)("refuses an ID token the provider issued to another client (wrong aud), even with this sign-in's nonce", async () => {
    const config = loadConfig({ env: {}, overrides: { dataDir: s.dataDir } });
    const oidc = createOidcSignIn(
      { issuer: provider.issuer, clientId: 'flaggate-console', clientSecret: 'console-secret', scopes: 'openid profile roles' },
      config.identity,
      systemClock,
    );
    const redirect = `${s.app.controlUrl}/console/callback`;
    const ours = await oidc.start(redirect);

    // The same person signs in to the other application, whose request carries our nonce.
    const verifier = randomBytes(32).toString('base64url');
    const wikiUrl = new URL(`${provider.issuer}/auth`);
    for (const [k, v] of Object.entries({
      client_id: 'wiki', response_type: 'code', scope: 'openid profile roles', redirect_uri: redirect, state: 'wiki-state', nonce: ours.checks.nonce,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256',
    })) wikiUrl.searchParams.set(k, v);
    const wikiCode = new URL(await callbackFor(wikiUrl.href, 'sam')).searchParams.get('code')!;
    const wikiTokens = (await (await fetch(`${provider.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from('wiki:wiki-secret').toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: wikiCode, redirect_uri: redirect, code_verifier: verifier }).toString(),
    })).json()) as { id_token: string };
    const claims = JSON.parse(Buffer.from(wikiTokens.id_token.split('.')[1]!, 'base64url').toString()) as { aud: string; nonce: string };
    expect(claims).toMatchObject({ aud: 'wiki', nonce: ours.checks.nonce });

    // Our own code is redeemed, and the answer comes back with the other application's ID token.
    const callback = await callbackFor(ours.url, 'sam');
    provider.substituteNextIdToken(wikiTokens.id_token);
    const refused = (await oidc.finish(callback, ours.checks).catch((err: unknown) => err)) as { code: string; message: string };
    expect(refused.message).toMatch(/aud/i);
    expect(refused.code).toBe('CONSOLE_SIGN_IN_FAILED');

    // Without the substitution the same kind of sign-in completes: the refusal is the audience check.
    const again = await oidc.start(redirect);
    expect(await oidc.finish(await callbackFor(again.url, 'sam'), again.checks)).toMatchObject({ id: 'sam', authMethod: 'oidc' });
  }, 40_000);
});
