/**
 * Refused writes cost the ledger little: their bodies are kept as a digest and an excerpt, and an
 * actor refused faster than the recording rate is summarized, not recorded request by request.
 */
import { createHash } from 'node:crypto';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openLedgerReader, rowToEntry, type AuditEntry, type StoredRow } from '../../src/audit/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

let app: TestFlaggate | undefined;
afterEach(async () => {
  await app?.stop();
  app = undefined;
});

function entriesOf(a: TestFlaggate): AuditEntry[] {
  const reader = openLedgerReader(`${a.dataDir}/ledger.sqlite`);
  try {
    return (reader.read(0, 1_000_000) as StoredRow[]).map(rowToEntry);
  } finally {
    reader.close();
  }
}

function bytesUnder(dir: string): number {
  return readdirSync(dir, { withFileTypes: true }).reduce((sum, d) => sum + (d.isDirectory() ? bytesUnder(join(dir, d.name)) : statSync(join(dir, d.name)).size), 0);
}

async function send(a: TestFlaggate, method: string, path: string, token: string | null, body?: string, headers: Record<string, string> = {}) {
  const res = await fetch(a.proxyUrl + path, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
    body,
  });
  const json = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: json.code, decisionId: res.headers.get('x-flaggate-decision-id')! };
}

// Generous: the window summary is written on a timer, and a loaded 2-core machine delays timers.
const until = async (check: () => boolean, ms = 20_000) => {
  for (const deadline = Date.now() + ms; !check(); ) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe('bounded recording', () => {
  it('keeps a denied body of 1 MB as its digest and an excerpt: 20 of them grow the data dir by kilobytes, not 40 MB', async () => {
    app = await startTestFlaggate();
    const qa = await app.token('quinn', 'qa');
    const big = JSON.stringify({ state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', metadata: { note: 'x'.repeat(1_000_000) } });
    await send(app, 'POST', '/flags/checkout.new-flow/enable', qa); // the files exist before measuring
    const before = bytesUnder(app.dataDir);
    const replies: Array<Awaited<ReturnType<typeof send>>> = [];
    for (let i = 0; i < 20; i += 1) replies.push(await send(app, 'PUT', '/flags/checkout.new-flow', qa, big));
    expect(replies.map((r) => r.code)).toEqual(Array(20).fill('POLICY_DENIED'));
    const grown = bytesUnder(app.dataDir) - before;
    console.log(`20 denied 1 MB writes grew the data dir by ${grown} bytes`);
    expect(grown).toBeLessThan(1024 * 1024);

    const denied = entriesOf(app).filter((e) => replies.some((r) => r.decisionId === e.decision_id));
    expect(denied).toHaveLength(20);
    const sha = createHash('sha256').update(big).digest('hex');
    for (const e of denied) {
      expect(e).toMatchObject({ decision: { allow: false, error_code: 'POLICY_DENIED' }, request: { body_sha256: sha }, new_state: { omitted: { bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) } } });
      expect((e.new_state as { omitted: { excerpt: string } }).omitted.excerpt.length).toBeLessThanOrEqual(257);
    }
  });

  it('keeps an allowed change whole, and a small denied one too', async () => {
    app = await startTestFlaggate();
    const [qa, release] = await Promise.all([app.token('quinn', 'qa'), app.token('riley', 'release_engineer')]);
    const definition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on', metadata: { note: 'y'.repeat(4000) } };
    const allowed = await send(app, 'PUT', '/flags/checkout.new-flow', release, JSON.stringify(definition), { 'x-flaggate-reason': 'bounded recording test', 'x-flaggate-ticket': 'CHG-5' });
    const small = await send(app, 'POST', '/flags/checkout.new-flow/disable', qa);
    expect([allowed.status, small.code]).toEqual([200, 'POLICY_DENIED']);
    const entries = entriesOf(app);
    expect(entries.find((e) => e.decision_id === allowed.decisionId)!.new_state).toEqual(definition);
    expect(entries.find((e) => e.decision_id === small.decisionId)!.new_state).toEqual({ state: 'DISABLED' });
  });

  it('records refusals one by one up to the rate, then one summary per actor and window; others are still recorded', async () => {
    app = await startTestFlaggate({ 'audit.refusals.burst': 3, 'audit.refusals.perSecond': 0.001, 'audit.refusals.windowSeconds': 0.3 });
    const [qa, release, auditor] = await Promise.all([app.token('quinn', 'qa'), app.token('riley', 'release_engineer'), app.token('ada', 'auditor')]);
    const flood: Array<Awaited<ReturnType<typeof send>>> = [];
    for (let i = 0; i < 10; i += 1) flood.push(await send(app, 'POST', '/flags/checkout.new-flow/enable', qa));
    for (let i = 0; i < 10; i += 1) flood.push(await send(app, 'POST', '/flags/checkout.new-flow/enable', i % 2 ? 'forged' : null));
    // Every caller still gets its refusal and a decision id.
    expect(flood.map((r) => r.status)).toEqual([...Array(10).fill(403), ...Array(10).fill(401)]);
    const other = await send(app, 'POST', '/flags/checkout.new-flow/disable', release, undefined, { 'x-flaggate-reason': 'unaffected', 'x-flaggate-ticket': 'CHG-6' });
    expect(other.status).toBe(200);

    await until(() => entriesOf(app!).filter((e) => e.entry_type === 'change.refusals_summarized').length === 2);
    const entries = entriesOf(app);
    const individual = entries.filter((e) => flood.some((r) => r.decisionId === e.decision_id));
    expect(individual.map((e) => e.actor.id)).toEqual(['quinn', 'quinn', 'quinn', 'unauthenticated', 'unauthenticated', 'unauthenticated']);
    const summaries = entries.filter((e) => e.entry_type === 'change.refusals_summarized');
    expect(summaries).toEqual([
      expect.objectContaining({
        actor: expect.objectContaining({ id: 'quinn', auth_method: 'dev-token' }),
        new_state: { refusals: 7, first_at: expect.any(String), last_at: expect.any(String), by_code: { POLICY_DENIED: 7 } },
        decision: expect.objectContaining({ allow: false, reasons: [expect.stringMatching(/^7 further refusals by actor quinn between .* were not recorded individually$/)] }),
      }),
      expect.objectContaining({
        actor: expect.objectContaining({ id: 'unauthenticated', auth_method: 'none' }),
        new_state: expect.objectContaining({ refusals: 7, by_code: { IDENTIFY_TOKEN_MALFORMED: 4, IDENTIFY_TOKEN_MISSING: 3 } }),
      }),
    ]);
    expect(entries.filter((e) => e.decision_id === other.decisionId).map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  });
});
