import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY } from '../../src/console/guard.js';
import { businessHours, ConsoleClient, startConsoleSidecar, type ConsoleSidecar } from './console-client.js';

const clock = businessHours();
let s: ConsoleSidecar;
let changeId: string;

beforeAll(async () => {
  s = await startConsoleSidecar({ 'console.sessionIdleSeconds': 600, 'console.sessionMaxSeconds': 3600 }, clock);
  changeId = await s.hold('rita', { 'x-flaggate-reason': 'launch <script>alert(1)</script>' });
});
afterAll(async () => {
  await s?.stop();
});

async function statusOf(id: string): Promise<string> {
  const client = new ConsoleClient(s.app.controlUrl);
  await client.signIn('auditor-of-status', 'release_engineer');
  const html = await (await client.get(`/console/changes/${id}`)).text();
  return /id="status">([^<]+)</.exec(html)![1]!;
}

describe('console sign-in and session', () => {
  it('sends an anonymous visitor to the development sign-in form, marked as development only', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    const home = await client.get('/console/');
    expect(home.status).toBe(303);
    expect(home.headers.get('location')).toBe('/console/sign-in');
    const page = await (await client.get('/console/sign-in')).text();
    expect(page).toContain('<label for="name">Name</label>');
    expect(page).toContain('<label for="role">Role</label>');
    expect(page).toContain('>Sign in</button>');
    expect(page).toMatch(/Development only/);
  });

  it('serves every page with a strict CSP, no inline script, only its own stylesheet and script file', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const auditor = new ConsoleClient(s.app.controlUrl);
    await auditor.signIn('ada', 'auditor');
    for (const [who, path] of [
      [client, '/console/sign-in'],
      [client, '/console/'],
      [client, `/console/changes/${changeId}`],
      [auditor, '/console/audit'],
      [auditor, '/console/audit/entries/1'],
      [auditor, '/console/audit/flags/payments.instant-payouts'],
      [auditor, '/console/fleet'],
    ] as const) {
      const res = await who.get(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      const html = await res.text();
      // The one script is a file of the console's own; no page carries script inline or in attributes.
      expect([...html.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0])).toEqual(['<script src="/console/assets/local-time.js" defer>']);
      expect(html).not.toMatch(/<script[^>]*>[^<]|\son[a-z]+=|javascript:/i);
      expect([...html.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]).filter((u) => !u!.startsWith('/console/'))).toEqual([]);
    }
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-inline|unsafe-eval/);
    expect(CONTENT_SECURITY_POLICY).toContain("script-src 'self'");
    const script = await client.get('/console/assets/local-time.js');
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/);
    const css = await client.get('/console/assets/console.css');
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('answers a change id that is not valid percent-encoding with 400, not a failure page', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const res = await client.get('/console/changes/%');
    expect(res.status).toBe(400);
    expect(await res.text()).toContain('CONTROL_BAD_REQUEST');
  });

  it('escapes what the requester wrote', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const html = await (await client.get(`/console/changes/${changeId}`)).text();
    expect(html).toContain('launch &#60;script&#62;alert(1)&#60;/script&#62;');
  });

  it('keeps the session server-side in a __Host- cookie: Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    const res = await client.signIn('sam', 'release_engineer');
    expect(res.status).toBe(303);
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-flaggate-console='))!;
    expect(cookie).toMatch(/; Path=\/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600$/);
    expect(cookie).not.toMatch(/Domain=/i);
    // The cookie is a random handle: no name, role or claim of the person rides in it.
    expect(cookie.split(';')[0]).toMatch(/^__Host-flaggate-console=[A-Za-z0-9_-]{43}$/);
    expect((await client.get('/console/')).status).toBe(200);
  });

  it('refuses a session id the server never issued, and a cookie sent twice', async () => {
    const forged = new ConsoleClient(s.app.controlUrl);
    forged.cookies.set('__Host-flaggate-console', 'A'.repeat(43));
    expect((await forged.get('/console/')).status).toBe(303);

    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const doubled = `${client.cookieHeader()}; __Host-flaggate-console=${'B'.repeat(43)}`;
    expect((await fetch(`${s.app.controlUrl}/console/`, { redirect: 'manual', headers: { cookie: doubled } })).status).toBe(303);
  });

  it('ends a session after the idle timeout, and after the absolute timeout even when in use', async () => {
    const idle = new ConsoleClient(s.app.controlUrl);
    await idle.signIn('sam', 'release_engineer');
    clock.advance(601 * 1000);
    const res = await idle.get('/console/');
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/console/sign-in?expired=1');
    // Once ended, it stays ended.
    expect((await fetch(`${s.app.controlUrl}/console/`, { redirect: 'manual', headers: { cookie: res.headers.getSetCookie()[0] ?? '' } })).status).toBe(303);

    const busy = new ConsoleClient(s.app.controlUrl);
    await busy.signIn('sam', 'release_engineer');
    for (let i = 0; i < 6; i++) {
      clock.advance(500 * 1000);
      expect((await busy.get('/console/')).status).toBe(200);
    }
    clock.advance(500 * 1000); // 3,500 s of use, then past the hour
    clock.advance(200 * 1000);
    expect((await busy.get('/console/')).headers.get('location')).toBe('/console/sign-in?expired=1');
  });

  it('signs out: the old cookie no longer opens a page', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const old = client.cookieHeader();
    const csrf = await client.csrfOn('/console/');
    expect((await client.post('/console/sign-out', { csrf })).headers.get('location')).toBe('/console/sign-in');
    expect((await fetch(`${s.app.controlUrl}/console/`, { redirect: 'manual', headers: { cookie: old } })).status).toBe(303);
  });

  it('signing in again ends the earlier session of the browser, on the server too', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const old = client.cookieHeader();
    await client.signIn('sam', 'auditor');
    expect((await client.get('/console/')).status).toBe(200);
    expect((await fetch(`${s.app.controlUrl}/console/`, { redirect: 'manual', headers: { cookie: old } })).status).toBe(303);
  });
});

describe('console CSRF', () => {
  it('refuses a sign-in form without the token it was served with', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.get('/console/sign-in');
    const res = await client.post('/console/sign-in', { csrf: 'x'.repeat(43), name: 'sam', role: 'release_engineer' });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('CONSOLE_CSRF_INVALID');
    expect(res.headers.getSetCookie().some((c) => c.startsWith('__Host-flaggate-console='))).toBe(false);
  });

  it.each([
    { name: 'no token', form: (_csrf: string) => ({ verdict: 'approve' }), headers: {} as Record<string, string> },
    { name: 'a wrong token', form: (_csrf: string) => ({ verdict: 'approve', csrf: 'A'.repeat(43) }), headers: {} },
    { name: 'the right token from another origin', form: (csrf: string) => ({ verdict: 'approve', csrf }), headers: { origin: 'https://evil.example' } },
    { name: 'the right token from a cross-site form', form: (csrf: string) => ({ verdict: 'approve', csrf }), headers: { 'sec-fetch-site': 'cross-site' } },
  ])('refuses an approval with $name, and the change stays pending', async ({ form, headers }) => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const csrf = await client.csrfOn(`/console/changes/${changeId}`);
    const res = await client.post(`/console/changes/${changeId}/review`, form(csrf), headers);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('CONSOLE_CSRF_INVALID');
    expect(await statusOf(changeId)).toBe('pending');
  });

  it("does not take another session's token", async () => {
    const other = new ConsoleClient(s.app.controlUrl);
    await other.signIn('tom', 'release_engineer');
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const res = await client.post(`/console/changes/${changeId}/review`, { verdict: 'approve', csrf: await other.csrfOn('/console/') });
    expect(res.status).toBe(403);
  });
});

describe('console reviews follow the API rules', () => {
  it("tells the requester before the click that it is their own change, and refuses the approval with that reason", async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('rita', 'release_engineer');
    const page = await (await client.get(`/console/changes/${changeId}`)).text();
    expect(page).toContain('This is your own change');
    const res = await client.post(`/console/changes/${changeId}/review`, { verdict: 'approve', csrf: await client.csrfOn('/console/'), reason: 'mine' });
    expect(res.status).toBe(403);
    const html = await res.text();
    expect(html).toContain('APPROVAL_SELF');
    expect(html).toContain('cannot approve their own change');
    expect(await statusOf(changeId)).toBe('pending');
  });

  it('tells a person without an approver role before the click, and refuses them', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('quinn', 'qa');
    const page = await client.get(`/console/changes/${changeId}`);
    expect(await page.text()).toContain('cannot approve this change');
    const res = await client.post(`/console/changes/${changeId}/review`, { verdict: 'approve', csrf: await client.csrfOn('/console/') });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('APPROVAL_ROLE_MISSING');
  });

  it('refuses the audit page to a role the policy does not let read the log', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('quinn', 'qa');
    const res = await client.get('/console/audit');
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('CONTROL_FORBIDDEN');
  });

  it('approves through the form and shows the change applied; the audit page says the log verifies', async () => {
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const res = await client.post(`/console/changes/${changeId}/review`, { verdict: 'approve', csrf: await client.csrfOn('/console/'), reason: 'checked with finance' });
    expect(res.status).toBe(303);
    expect(await statusOf(changeId)).toBe('applied');
    const auditor = new ConsoleClient(s.app.controlUrl);
    await auditor.signIn('ada', 'auditor');
    const audit = await (await auditor.get('/console/audit')).text();
    expect(audit).toContain('id="verification">verified<');
    expect(audit).toContain('change.approved');
  });

  it('records a reason as the API takes one: tabs and line breaks from the form become single spaces', async () => {
    const other = await s.hold('rita', { 'x-flaggate-reason': 'second try' });
    const client = new ConsoleClient(s.app.controlUrl);
    await client.signIn('sam', 'release_engineer');
    const res = await client.post(`/console/changes/${other}/review`, { verdict: 'reject', csrf: await client.csrfOn('/console/'), reason: 'not\tnow\r\n\tplease' });
    expect(res.status).toBe(303);
    const rejected = s.app.ledger.entriesAfter(0, 10_000).filter((e) => e.change_request_id === other && e.entry_type === 'change.rejected');
    expect(rejected.map((e) => e.reason)).toEqual(['not now please']);
  });
});
