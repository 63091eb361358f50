import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attestPeriod } from '../../src/attest-ledger.js';
import { openLedgerReader, verifyChain } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { ConsoleClient } from '../console/console-client.js';
import { makeTempDir } from '../support/temp-dir.js';

// Monday 2030-01-07 10:00 UTC: inside the shipped policy's business hours.
const NOW_MS = Date.UTC(2030, 0, 7, 10);
const REVIEW_SECONDS = 3600;
const CRITICAL = '/flags/payments.instant-payouts/enable';
const context = { 'x-flaggate-reason': 'checkout failing for every card', 'x-flaggate-ticket': 'INC-42' };

const clock = fixedClock(NOW_MS);
const tmp = makeTempDir('flaggate-break-glass-');
let app: Flaggate;
let ivy: string; // incident commander
let riley: string; // release engineer
let ada: string; // auditor

const token = (sub: string, role: string) => mintDevToken({ dataDir: tmp.dir, sub, roles: [role], clock, ttlSeconds: 7 * 24 * 3600 });

async function change(tokenValue: string, headers: Record<string, string>, path = CRITICAL) {
  const res = await fetch(app.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${tokenValue}`, ...headers } });
  return { status: res.status, decisionId: res.headers.get('x-flaggate-decision-id'), json: (await res.json()) as Record<string, unknown> };
}

async function control(method: string, path: string, tokenValue: string, body?: unknown) {
  const res = await fetch(app.controlUrl + path, {
    method,
    headers: { authorization: `Bearer ${tokenValue}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(app.controlUrl + '/metrics')).text();
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))].reduce((n, m) => n + Number(m[1]), 0);
}

const flagState = () => (JSON.parse(readFileSync(join(tmp.dir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, { state: string }> }).flags['payments.instant-payouts']!.state;
const entries = () => app.ledger.entriesAfter(0, 10_000);

beforeAll(async () => {
  const config = loadConfig({ env: { FLAGGATE_BREAK_GLASS_REVIEW_SECONDS: String(REVIEW_SECONDS) }, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'drift.intervalSeconds': 0 } });
  expect(config.breakGlass.reviewSeconds).toBe(REVIEW_SECONDS);
  app = await startFlaggate(config, { clock, logger: createLogger({ level: 'silent' }) });
  [ivy, riley, ada] = await Promise.all([token('ivy', 'incident_commander'), token('riley', 'release_engineer'), token('ada', 'auditor')]);
});

afterAll(async () => {
  await app?.close();
  tmp.cleanup();
});

describe('break-glass', () => {
  it('is refused to a role the policy does not name, and without a ticket; the attempt is recorded', async () => {
    const byRelease = await change(riley, { ...context, 'x-flaggate-break-glass': 'checkout down' });
    expect(byRelease).toMatchObject({ status: 403, json: { code: 'POLICY_DENIED' } });
    expect(byRelease.json.message).toContain('break-glass is not allowed to release_engineer');
    const noTicket = await change(ivy, { 'x-flaggate-reason': 'checkout down', 'x-flaggate-break-glass': 'checkout down' });
    expect(noTicket).toMatchObject({ status: 403, json: { code: 'POLICY_DENIED' } });
    expect(noTicket.json.message).toContain('break-glass changes require a ticket');
    const attempt = entries().find((e) => e.decision_id === byRelease.decisionId)!;
    expect(attempt.break_glass).toEqual({ reason: 'checkout down', granted: false, review_due_at: null, reviews: null, overdue: null });
    expect(flagState()).toBe('DISABLED');
    expect(await metric('flaggate_break_glass_total')).toBe(0);
  });

  it('without the header, the incident commander waits for approval like anyone', async () => {
    const held = await change(ivy, context);
    expect(held.status).toBe(202);
    expect(flagState()).toBe('DISABLED');
  });

  it('applies the change without approval, records break_glass with the reason, and raises the alert metric', async () => {
    const res = await change(ivy, { ...context, 'x-flaggate-break-glass': 'card payments failing since 09:52' });
    expect(res.status).toBe(200);
    expect(flagState()).toBe('ENABLED');
    const mine = entries().filter((e) => e.decision_id === res.decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    const dueAt = new Date(NOW_MS + REVIEW_SECONDS * 1000).toISOString();
    for (const e of mine) {
      expect(e.break_glass).toEqual({ reason: 'card payments failing since 09:52', granted: true, review_due_at: dueAt, reviews: null, overdue: null });
      expect(e.approval).toMatchObject({ required: true, required_approvals: 1, approved_by: [] });
      expect(e.reason).toBe(context['x-flaggate-reason']);
      expect(e.linked_artifacts.ticket).toBe('INC-42');
    }
    expect(mine[1]!.outcome?.status).toBe('applied');
    expect(await metric('flaggate_break_glass_total')).toBe(1);
    expect(await metric('flaggate_break_glass_reviews_overdue')).toBe(0);
    const listed = await control('GET', '/v1/break-glass?open=true', ada);
    expect(listed).toMatchObject({ status: 200, json: { changes: [{ id: res.decisionId, requester: 'ivy', flag_key: 'payments.instant-payouts', overdue: false, review: null, outcome: 'applied' }] } });
  });

  it('is overdue once the configured time has passed without a review: metric and console', async () => {
    clock.advance(REVIEW_SECONDS * 1000 - 1000);
    expect(await metric('flaggate_break_glass_reviews_overdue')).toBe(0);
    clock.advance(2000);
    expect(await metric('flaggate_break_glass_reviews_overdue')).toBe(1);
    const browser = new ConsoleClient(app.controlUrl);
    expect((await browser.signIn('ada', 'auditor')).status).toBe(303);
    const page = await (await browser.get('/console/break-glass')).text();
    expect(page).toContain('review overdue');
    expect(page).toContain('card payments failing since 09:52');
  });

  it('is completed by a second person only: not the requester, not a role without break_glass.review', async () => {
    const [open] = (await control('GET', '/v1/break-glass', ada)).json.changes as Array<{ id: string }>;
    const path = `/v1/break-glass/${open!.id}/review`;
    expect(await control('POST', path, ivy, { reason: 'was warranted' })).toMatchObject({ status: 403, json: { code: 'BREAK_GLASS_SELF_REVIEW' } });
    // A pipeline's client-credentials token has the role but no person behind it.
    const pipeline = await mintDevToken({ dataDir: tmp.dir, sub: 'ivy-pipeline', roles: ['release_engineer'], clock, ttlSeconds: 3600, claims: { gty: 'client-credentials' } });
    expect(await control('POST', path, pipeline, { reason: 'auto-approved' })).toMatchObject({ status: 403, json: { code: 'BREAK_GLASS_REVIEWER_NOT_A_PERSON' } });
    expect(await control('POST', path, ada, { reason: 'looks fine' })).toMatchObject({ status: 403, json: { code: 'CONTROL_FORBIDDEN' } });
    expect(await control('POST', path, riley, {})).toMatchObject({ status: 400, json: { code: 'CONTROL_BAD_REQUEST' } });
    // A ticket is printable text on one line, as everywhere else the control port records one.
    for (const ticket of ['INC-1\u001b[2K\r\nseq 99 approved by auditor', 'INC-1\u202e24-CNI', 'INC-1\u2028INC-2', 'INC-1\u0085']) {
      expect(await control('POST', path, riley, { reason: 'ok', ticket }), JSON.stringify(ticket)).toMatchObject({ status: 400, json: { code: 'CONTROL_BAD_REQUEST' } });
    }
    expect(await control('POST', `/v1/break-glass/${crypto.randomUUID()}/review`, riley, { reason: 'x' })).toMatchObject({ status: 404, json: { code: 'BREAK_GLASS_NOT_FOUND' } });

    const done = await control('POST', path, riley, { reason: 'outage confirmed in INC-42; the flip was the right call', ticket: '  ' });
    expect(done).toMatchObject({ status: 201, json: { reviewed: open!.id, entry: { actor: 'riley', overdue: true } } });
    expect(await control('POST', path, riley, { reason: 'again' })).toMatchObject({ status: 409, json: { code: 'BREAK_GLASS_ALREADY_REVIEWED' } });
    expect(await metric('flaggate_break_glass_reviews_overdue')).toBe(0);
    const review = entries().find((e) => e.entry_type === 'break_glass.reviewed')!;
    // A blank ticket is none: the review links the change's own.
    expect(review).toMatchObject({ decision_id: open!.id, actor: { id: 'riley' }, break_glass: { reviews: open!.id, overdue: true }, linked_artifacts: { ticket: 'INC-42' } });
    expect((await control('GET', '/v1/break-glass', ada)).json.changes).toMatchObject([{ overdue: false, review: { by: 'riley', late: true } }]);
  });

  it('shows in the attestation of the period: the change, its emergency, and its late review as a finding', async () => {
    const out = join(tmp.dir, 'attestation');
    const report = await attestPeriod({ db: join(tmp.dir, 'ledger.sqlite'), from: new Date(NOW_MS - 3600_000).toISOString(), to: new Date(clock.now() + 1000).toISOString(), out, maxDelaySeconds: 3600, skewSeconds: 1, clock });
    expect(report.break_glass).toMatchObject([{ requester: 'ivy', emergency: 'card payments failing since 09:52', ticket: 'INC-42', outcome: 'applied', review: { by: 'riley', late: true } }]);
    expect(report.findings.filter((f) => f.check === 'break_glass_reviewed')).toMatchObject([{ title: 'break-glass change reviewed late', controls: expect.arrayContaining(['SOC 2 CC8.1']) }]);
  });

  it('leaves a chain that verifies', async () => {
    const reader = openLedgerReader(join(tmp.dir, 'ledger.sqlite'));
    try {
      expect((await verifyChain(reader.read)).ok).toBe(true);
    } finally {
      reader.close();
    }
  });
});
