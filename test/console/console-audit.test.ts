import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extract } from 'tar';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchLedgerFile, verifyExport } from '../../src/audit/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { verifyCoverage } from '../../src/timestamp/index.js';
import { tamper } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';
import { businessHours, ConsoleClient, csrfOf, startConsoleSidecar, type ConsoleSidecar } from './console-client.js';

const FLAG = 'checkout.new-flow';
const clock = businessHours(); // Monday 2030-01-07 10:00 UTC
let s: ConsoleSidecar;
let auditor: ConsoleClient;
const work = makeTempDir('flaggate-console-audit-');

async function change(sub: string, role: string, action: 'enable' | 'disable'): Promise<number> {
  const token = await mintDevToken({ dataDir: s.dataDir, sub, roles: [role], clock, ttlSeconds: 30 * 24 * 3600 });
  const res = await fetch(`${s.app.proxyUrl}/flags/${FLAG}/${action}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': `${action} for the audit view`, 'x-flaggate-ticket': 'CHG-77' },
  });
  await res.arrayBuffer();
  return res.status;
}

/** The seq numbers of the entry rows on a log page, in page order. */
function seqsOn(html: string): number[] {
  return [...html.matchAll(/href="\/console\/audit\/entries\/(\d+)" aria-label="Entry/g)].map((m) => Number(m[1]));
}

beforeAll(async () => {
  s = await startConsoleSidecar({ 'audit.checkpointEveryEntries': 3 }, clock);
  expect(await change('riley', 'release_engineer', 'enable')).toBe(200);
  expect(await change('quinn', 'qa', 'disable')).toBe(403);
  auditor = new ConsoleClient(s.app.controlUrl);
  await auditor.signIn('ada', 'auditor');
  // A verification covers the newest entries with a token now, not a day later (which would be late).
  expect(await (await auditor.get('/console/audit')).text()).toContain('id="verification">verified<');
  clock.advance(24 * 3600 * 1000); // Tuesday
  expect(await change('riley', 'release_engineer', 'disable')).toBe(200);
  auditor = new ConsoleClient(s.app.controlUrl); // the Monday session has timed out
  await auditor.signIn('ada', 'auditor');
}, 30_000);
afterAll(async () => {
  await s?.stop();
  work.cleanup();
});

describe('the audit log in the console', () => {
  it('shows the verification status with its parts and the time it was checked', async () => {
    const html = await (await auditor.get('/console/audit')).text();
    expect(html).toContain('id="verification">verified<');
    expect(html).toContain('id="checked-at">2030-01-08T10:00:00.000Z<');
    for (const part of ['Chain', 'Checkpoints', 'Timestamps', 'Upstream']) expect(html).toMatch(new RegExp(`<th scope="row">${part}</th><td><span class="ok">holds</span>`));
    expect(html).toContain('<a href="/console/audit">Audit log</a>');
  });

  it('reuses a check for a minute, and runs a new one when asked (with the form token)', async () => {
    const checkedAt = async () => /id="checked-at">([^<]+)</.exec(await (await auditor.get('/console/audit')).text())![1];
    const first = await checkedAt();
    clock.advance(10_000);
    expect(await checkedAt()).toBe(first);
    expect((await auditor.post('/console/audit/verify', {})).status).toBe(403);
    const csrf = await auditor.csrfOn('/console/audit');
    expect((await auditor.post('/console/audit/verify', { csrf })).headers.get('location')).toBe('/console/audit');
    expect(await checkedAt()).toBe(new Date(clock.now()).toISOString());
    expect(await checkedAt()).not.toBe(first);
  });

  it('filters by flag, actor, outcome and period; every row shown matches', async () => {
    const all = seqsOn(await (await auditor.get('/console/audit')).text());
    expect(all.length).toBeGreaterThanOrEqual(5);
    expect(all).toEqual([...all].sort((a, b) => b - a)); // newest first

    const denied = await (await auditor.get('/console/audit?outcome=denied')).text();
    expect(seqsOn(denied)).toHaveLength(1);
    expect(denied).toContain('<td>quinn</td>');
    expect(denied).not.toContain('<td>riley</td>');

    const byRiley = await (await auditor.get('/console/audit?actor=riley&outcome=applied')).text();
    expect(seqsOn(byRiley)).toHaveLength(2);

    const tuesday = await (await auditor.get(`/console/audit?flag=${FLAG}&from=2030-01-08&to=2030-01-08`)).text();
    const monday = await (await auditor.get(`/console/audit?flag=${FLAG}&from=2030-01-07&to=2030-01-07`)).text();
    expect(seqsOn(tuesday).length).toBeGreaterThan(0);
    expect(seqsOn(monday).length).toBeGreaterThan(0);
    expect(seqsOn(tuesday).every((n) => n > Math.max(...seqsOn(monday)))).toBe(true);
    expect(tuesday).not.toContain('2030-01-07 10:00:00');
    // The form keeps what was asked, so the next page and the export use the same filters.
    expect(tuesday).toContain('id="f-from" name="from" value="2030-01-08"');

    expect(seqsOn(await (await auditor.get('/console/audit?flag=no.such-flag')).text())).toEqual([]);
  });

  it('refuses filters it cannot read instead of guessing', async () => {
    expect((await auditor.get('/console/audit?outcome=whatever')).status).toBe(400);
    expect((await auditor.get('/console/audit?from=08/01/2030')).status).toBe(400);
    expect((await auditor.get('/console/audit?before=1;DROP')).status).toBe(404);
  });

  it('opens an entry: every field, its hash, its neighbours, the token and the checkpoint that cover it', async () => {
    const seq = 2;
    const html = await (await auditor.get(`/console/audit/entries/${seq}`)).text();
    const [entry] = searchLedgerFile(join(s.dataDir, 'ledger.sqlite'), {}, { after: seq - 1, limit: 1 }).rows;
    expect(entry!.seq).toBe(seq);
    expect(html).toContain(`<code id="entry-hash">${entry!.hash}</code>`);
    expect(html).toContain(`<code>${entry!.prev_hash}</code>`);
    expect(html).toContain('href="/console/audit/entries/1" rel="prev"');
    expect(html).toContain('href="/console/audit/entries/3" rel="next"');
    for (const field of Object.keys(JSON.parse(entry!.body) as object)) expect(html).toContain(`<code>${field}</code>`);
    expect(html).toMatch(/id="timestamp-token"><dt>Token<\/dt><dd>#\d+/);
    expect(html).toMatch(/id="checkpoint"><dt>Checkpoint<\/dt><dd>at <a href="\/console\/audit\/entries\/3">seq 3<\/a>/);
    expect(html).toMatch(/<span class="ok">verifies with key [^<]+<\/span>/);
    expect((await auditor.get('/console/audit/entries/999999')).status).toBe(404);
  });

  it("shows one flag's timeline, oldest first", async () => {
    const html = await (await auditor.get(`/console/audit/flags/${FLAG}`)).text();
    const seqs = [...html.matchAll(/<li><time[^>]*>[^<]*<\/time> <a href="\/console\/audit\/entries\/(\d+)">/g)].map((m) => Number(m[1]));
    expect(seqs.length).toBeGreaterThanOrEqual(5);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(html).toContain('→ <strong>denied</strong>');
    expect(html).toContain('→ <strong>applied</strong>');
  });

  it('downloads the export package for the filtered period, and it verifies offline', async () => {
    const page = await (await auditor.get(`/console/audit?flag=${FLAG}&from=2030-01-08&to=2030-01-08`)).text();
    const form = /<form method="post" action="\/console\/audit\/export">([\s\S]*?)<\/form>/.exec(page)![1]!;
    const fields = Object.fromEntries([...form.matchAll(/name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]));
    expect(fields).toMatchObject({ flag: FLAG, from: '2030-01-08', to: '2030-01-08', csrf: csrfOf(page) });
    const res = await auditor.post('/console/audit/export', fields);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/gzip');
    expect(res.headers.get('content-disposition')).toMatch(/^attachment; filename="flaggate-export-\d+\.tar\.gz"$/);
    const dir = join(work.dir, 'package');
    mkdirSync(dir);
    writeFileSync(join(work.dir, 'export.tar.gz'), Buffer.from(await res.arrayBuffer()));
    await extract({ file: join(work.dir, 'export.tar.gz'), cwd: dir });
    expect(await verifyExport(dir, { verifyTokens: verifyCoverage })).toMatchObject({ ok: true });
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { period: unknown; filters: unknown; entries: number };
    expect(manifest).toMatchObject({ period: { from: '2030-01-08T00:00:00.000Z', to: '2030-01-09T00:00:00.000Z' }, filters: { flag: FLAG } });
    expect(manifest.entries).toBe(seqsOn(page).length);
  });

  it('refuses an export without the CSRF token, and to a role that may not export', async () => {
    const res = await auditor.post('/console/audit/export', { flag: FLAG });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain('CONSOLE_CSRF_INVALID');
    const engineer = new ConsoleClient(s.app.controlUrl);
    await engineer.signIn('riley', 'release_engineer');
    const refused = await engineer.post('/console/audit/export', { csrf: await engineer.csrfOn('/console/') });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('CONTROL_FORBIDDEN');
  });

  it('refuses entries, timelines and the fleet page to a role that may not read the log', async () => {
    const qa = new ConsoleClient(s.app.controlUrl);
    await qa.signIn('quinn', 'qa');
    for (const path of ['/console/audit/entries/1', `/console/audit/flags/${FLAG}`, '/console/fleet']) expect((await qa.get(path)).status).toBe(403);
  });
});

describe('the fleet and policy page', () => {
  it('shows the policy in force, readiness, the sinks with their lag and the TSA, as /readyz and /metrics do', async () => {
    const html = await (await auditor.get('/console/fleet')).text();
    const readyz = (await (await fetch(`${s.app.controlUrl}/readyz`)).json()) as { ready: boolean; checks: Record<string, { detail?: string }> };
    expect(readyz.ready).toBe(true);
    expect(html).toContain('id="readiness" class="ok">ready<');
    for (const name of Object.keys(readyz.checks)) expect(html).toContain(`<th scope="row">${name}</th>`);
    expect(html).toContain(`id="policy-revision">${readyz.checks.policy!.detail}<`);
    expect(html).toContain('id="policy-shadow">none<');
    expect(html).toMatch(/<th scope="row">jsonl<\/th><td>jsonl<\/td><td>[^<]*audit\.jsonl<\/td><td>yes<\/td>\s*<td>0<\/td>/);
    expect(html).toContain('the embedded TSA');
    expect(html).toContain('id="uncovered">0<');
    expect(html).toMatch(/<h2>Drift<\/h2>/);
  });
});

describe('the ledger search', () => {
  it('pages newest first and back, with no entry twice or missed', () => {
    const file = join(s.dataDir, 'ledger.sqlite');
    const seen: number[] = [];
    let page = searchLedgerFile(file, {}, { limit: 2 });
    expect(page.newerExist).toBe(false);
    for (;;) {
      seen.push(...page.rows.map((r) => r.seq));
      if (!page.olderExist) break;
      page = searchLedgerFile(file, {}, { before: page.rows.at(-1)!.seq, limit: 2 });
    }
    const head = seen[0]!;
    expect(seen).toEqual(Array.from({ length: head }, (_, i) => head - i));
    const newer = searchLedgerFile(file, {}, { after: 1, limit: 2 });
    expect(newer.rows.map((r) => r.seq)).toEqual([3, 2]);
    expect(newer).toMatchObject({ olderExist: true, newerExist: head > 3 });
  });

  it('takes page bounds only as whole numbers', () => {
    expect(() => searchLedgerFile(join(s.dataDir, 'ledger.sqlite'), {}, { before: 1.5, limit: 2 })).toThrow(/whole number/);
  });
});

describe('a log changed behind the ledger', () => {
  it('shows the edited row as unreadable instead of failing or hiding it, and the status says failed', async () => {
    const t = await startConsoleSidecar({}, businessHours());
    try {
      const token = await mintDevToken({ dataDir: t.dataDir, sub: 'riley', roles: ['release_engineer'], clock: businessHours(), ttlSeconds: 3600 });
      const res = await fetch(`${t.app.proxyUrl}/flags/${FLAG}/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'r', 'x-flaggate-ticket': 'CHG-1' } });
      expect(res.status).toBe(200);
      expect(tamper(join(t.dataDir, 'ledger.sqlite'), "UPDATE audit_entries SET body = 'not an entry' WHERE seq = 1")).toBe(1);
      const client = new ConsoleClient(t.app.controlUrl);
      await client.signIn('ada', 'auditor');
      const log = await client.get('/console/audit');
      expect(log.status).toBe(200);
      const html = await log.text();
      expect(html).toContain('id="verification">failed<');
      expect(html).toMatch(/aria-label="Entry 1">1<\/a><\/td><td colspan="8" class="bad">unreadable/);
      expect(seqsOn(html)).toEqual([2, 1]);
      const entry = await client.get('/console/audit/entries/1');
      expect(entry.status).toBe(200);
      const page = await entry.text();
      expect(page).toContain('<pre>not an entry</pre>');
      expect(page).toContain('href="/console/audit/entries/2" rel="next"');
    } finally {
      await t.stop();
    }
  });
});

