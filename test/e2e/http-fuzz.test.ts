/**
 * HTTP fuzz of the proxy and control ports (flagd file platform): generated methods, targets,
 * headers, tokens (valid and forged) and bodies, plus raw bytes that are not HTTP. Every request
 * gets an answer, no answer is a 5xx other than the documented fail-closed refusals, the process
 * survives, and the ledger verifies afterwards.
 *
 * FLAGGATE_FUZZ_RUNS (default 2000; 100000 for the long run) and FLAGGATE_FUZZ_SEED replay a run.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/clock.js';
import { mintDevToken } from '../../src/identify/index.js';
import { unsecuredToken, signWith, testKey } from '../fixtures/jwt/forge.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { arbFuzzRequest, type FuzzRequest } from '../support/http-fuzz.js';
import { exchangeBytes, parseResponse, serializeRequest } from '../support/raw-http.js';
import { makeTempDir } from '../support/temp-dir.js';

const runs = Number(process.env.FLAGGATE_FUZZ_RUNS ?? 2000);
const seed = Number(process.env.FLAGGATE_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const concurrency = 16;

/** 5xx replies that are refusals by design (README, "Errors"): the change was not made, retry later. */
const FAIL_CLOSED_5XX = new Set(['REPLICATE_UNACKED', 'TIMESTAMP_UNAVAILABLE', 'AUDIT_WRITE_FAILED']);

let app: TestFlaggate;

beforeAll(async () => {
  app = await startTestFlaggate({ 'limits.bodyBytes': 64 * 1024 });
});
afterAll(async () => app?.stop());

async function forgedTokens(dataDir: string): Promise<string[]> {
  const now = Math.floor(Date.now() / 1000);
  const valid = await mintDevToken({ dataDir, sub: 'mallory', roles: ['release_engineer'], clock: fixedClock(Date.now()) });
  const [h, p, s] = valid.split('.') as [string, string, string];
  const other = await testKey('ES256', 'dev');
  const elsewhere = makeTempDir('flaggate-fuzz-issuer-');
  try {
    return [
      `${h}.${p}.${s.slice(0, -4)}AAAA`,
      `${h}.${Buffer.from(JSON.stringify({ sub: 'mallory', roles: ['release_engineer'], iss: 'flaggate-dev', aud: 'flaggate', exp: now + 600 })).toString('base64url')}.${s}`,
      unsecuredToken({ sub: 'mallory', roles: ['release_engineer'], iss: 'flaggate-dev', aud: 'flaggate', exp: now + 600 }),
      await signWith(other, { iss: 'flaggate-dev', aud: 'flaggate', sub: 'mallory', now, claims: { roles: ['release_engineer'] } }),
      await mintDevToken({ dataDir: elsewhere.dir, sub: 'mallory', roles: ['release_engineer'], clock: fixedClock(Date.now()) }),
      await mintDevToken({ dataDir, sub: 'old', roles: ['release_engineer'], clock: fixedClock(Date.now() - 48 * 3600_000) }),
      'a.b.c',
      'not-a-jwt',
    ];
  } finally {
    elsewhere.cleanup();
  }
}

interface Tally {
  sent: number;
  byStatus: Record<string, number>;
  failures: string[];
}

async function fire(r: FuzzRequest, tally: Tally): Promise<void> {
  const port = Number(new URL(r.port === 'proxy' ? app.proxyUrl : app.controlUrl).port);
  const bytes = r.kind === 'bytes' ? r.bytes : serializeRequest(r.request, `127.0.0.1:${port}`);
  const what = r.kind === 'bytes' ? `${r.port} bytes ${JSON.stringify(r.bytes.toString('latin1').slice(0, 80))}` : `${r.port} ${r.request.method} ${r.request.target.slice(0, 120)}`;
  tally.sent++;
  let raw: Buffer;
  try {
    raw = await exchangeBytes(port, bytes, r.kind === 'bytes' ? 3_000 : 20_000);
  } catch (err) {
    tally.byStatus.unanswered = (tally.byStatus.unanswered ?? 0) + 1;
    if (r.kind === 'http') tally.failures.push(`${what}: ${String(err)}`);
    return;
  }
  if (raw.length === 0) {
    // Node's HTTP parser may close on bytes it cannot parse; a well-formed request always gets an answer.
    tally.byStatus.closed = (tally.byStatus.closed ?? 0) + 1;
    if (r.kind === 'http') tally.failures.push(`${what}: connection closed without a reply`);
    return;
  }
  let status: number;
  let body: Buffer;
  try {
    ({ status, body } = parseResponse(raw));
  } catch (err) {
    tally.failures.push(`${what}: unparsable reply (${String(err)})`);
    return;
  }
  tally.byStatus[status] = (tally.byStatus[status] ?? 0) + 1;
  if (status >= 500) {
    let code: unknown;
    try {
      code = (JSON.parse(body.toString('utf8')) as { code?: unknown }).code;
    } catch {
      code = undefined;
    }
    if (typeof code !== 'string' || !FAIL_CLOSED_5XX.has(code)) tally.failures.push(`${what}: ${status} ${body.toString('utf8').slice(0, 200)}`);
  }
}

describe('HTTP fuzz of the proxy and control ports', () => {
  it(`answers ${runs} generated requests without a crash or an undocumented 5xx, and the ledger verifies`, async () => {
    const roles = ['release_engineer', 'qa', 'flag_admin', 'auditor', 'product'];
    const valid = await Promise.all(roles.map((role) => app.token(`fz-${role}`, role)));
    const requests = fc.sample(arbFuzzRequest({ valid, forged: await forgedTokens(app.dataDir) }), { numRuns: runs, seed });
    const tally: Tally = { sent: 0, byStatus: {}, failures: [] };
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < requests.length) await fire(requests[next++]!, tally);
      }),
    );
    console.log(`http fuzz (seed ${seed}): sent ${tally.sent}, by status ${JSON.stringify(tally.byStatus)}, failures ${tally.failures.length}`);
    for (const f of tally.failures.slice(0, 20)) console.log(`  ✗ ${f}`);
    expect(tally.sent).toBe(runs);
    expect(tally.failures, `FLAGGATE_FUZZ_SEED=${seed} replays this run`).toEqual([]);

    const health = await fetch(`${app.controlUrl}/healthz`);
    expect(health.status).toBe(200);
    const auditor = await app.token('ada', 'auditor');
    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  }, 3_600_000);
});
