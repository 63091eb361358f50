import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { makeOpensslPki, startOpensslTsa, type OpensslTsa } from '../support/openssl-tsa.js';
import { makeTempDir } from '../support/temp-dir.js';

const reason = { 'x-flaggate-reason': 'timestamp test', 'x-flaggate-ticket': 'CHG-1' };

async function post(app: TestFlaggate, path: string, token: string) {
  const res = await fetch(app.proxyUrl + path, { method: 'POST', headers: { authorization: `Bearer ${token}`, ...reason } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown>, decisionId: res.headers.get('x-flaggate-decision-id') };
}

async function audit(app: TestFlaggate, path: string, token: string) {
  const res = await fetch(app.controlUrl + path, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

const flagState = (app: TestFlaggate, key: string) =>
  (JSON.parse(readFileSync(`${app.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, { state: string }> }).flags[key]!.state;

describe('with the embedded TSA (the default)', () => {
  let app: TestFlaggate;
  beforeAll(async () => {
    app = await startTestFlaggate();
  });
  afterAll(async () => app?.stop());

  it('covers every entry of concurrent changes with shared tokens, and verify checks them', async () => {
    const release = await app.token('riley', 'release_engineer');
    const auditor = await app.token('ada', 'auditor');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => post(app, `/flags/checkout.new-flow/${i % 2 ? 'enable' : 'disable'}`, release)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    const { status, json } = await audit(app, '/v1/audit/verify', auditor);
    expect(status).toBe(200);
    const timestamps = json.timestamps as { ok: boolean; tokensChecked: number; coveredThrough: number };
    expect(timestamps.ok).toBe(true);
    expect(timestamps.coveredThrough).toBe((json.head as { seq: number }).seq);
    expect(timestamps.tokensChecked).toBeGreaterThan(0);
    expect(timestamps.tokensChecked).toBeLessThan(40);
    // Every entry names the token that covers it, one at or after its own seq.
    const listed = (await audit(app, '/v1/audit/entries?limit=1000', auditor)).json.entries as Array<{ seq: number; covered_by: { covers_seq: number; token_id: number } | null }>;
    expect(listed.length).toBe((json.head as { seq: number }).seq);
    for (const e of listed) expect(e.covered_by?.covers_seq).toBeGreaterThanOrEqual(e.seq);
  });

  it('serves RFC 3161 on the control port: an openssl query gets a reply that openssl verifies', async () => {
    const tmp = makeTempDir();
    try {
      writeFileSync(`${tmp.dir}/data.txt`, 'flaggate');
      execFileSync('openssl', ['ts', '-query', '-data', `${tmp.dir}/data.txt`, '-sha256', '-cert', '-out', `${tmp.dir}/q.tsq`]);
      const res = await fetch(`${app.controlUrl}/v1/tsa`, { method: 'POST', headers: { 'content-type': 'application/timestamp-query' }, body: readFileSync(`${tmp.dir}/q.tsq`) });
      expect(res.headers.get('content-type')).toBe('application/timestamp-reply');
      writeFileSync(`${tmp.dir}/r.tsr`, Buffer.from(await res.arrayBuffer()));
      const chain = await (await fetch(`${app.controlUrl}/v1/tsa/certs`)).text();
      writeFileSync(`${tmp.dir}/chain.pem`, chain);
      writeFileSync(`${tmp.dir}/ca.pem`, readFileSync(`${app.dataDir}/tsa/ca.crt`));
      const out = execFileSync('openssl', ['ts', '-verify', '-queryfile', `${tmp.dir}/q.tsq`, '-in', `${tmp.dir}/r.tsr`, '-CAfile', `${tmp.dir}/ca.pem`, '-untrusted', `${tmp.dir}/chain.pem`], { encoding: 'utf8' });
      expect(out).toContain('Verification: OK');
    } finally {
      tmp.cleanup();
    }
  });
});

/** flaggate in front of its flag file, timestamping with an `openssl ts -reply` TSA; stopped by `stop`. */
async function withExternalTsa(name: string, keyType: 'rsa' | 'ec', overrides: Record<string, unknown> = {}) {
  const pkiDir = makeTempDir();
  const tsa = await startOpensslTsa(await makeOpensslPki(pkiDir.dir), { name, keyType });
  const app = await startTestFlaggate({
    'timestamp.tsaUrls': [{ url: tsa.url }],
    'timestamp.trustAnchors': [tsa.caPath],
    'timestamp.untrusted': [tsa.tsaCertPath],
    'timestamp.timeoutMs': 2000,
    ...overrides,
  });
  return {
    app,
    tsa,
    async stop() {
      await app.stop();
      await tsa.close().catch(() => undefined);
      pkiDir.cleanup();
    },
  };
}

describe('with an external TSA (openssl ts -reply over HTTP)', () => {
  let tsa: OpensslTsa;
  let app: TestFlaggate;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ app, tsa, stop } = await withExternalTsa('ext', 'rsa'));
  }, 60_000);
  afterAll(() => stop?.());

  it('forwards a change once the external TSA covers it', async () => {
    const release = await app.token('riley', 'release_engineer');
    const res = await post(app, '/flags/checkout.new-flow/enable', release);
    expect(res.status).toBe(200);
    expect(flagState(app, 'checkout.new-flow')).toBe('ENABLED');
  });

  it('refuses changes with 503 when the TSA is down, forwards nothing, and records the refusal', async () => {
    await tsa.close();
    const release = await app.token('riley', 'release_engineer');
    const auditor = await app.token('ada', 'auditor');
    const res = await post(app, '/flags/checkout.new-flow/disable', release);
    expect(res.status).toBe(503);
    expect(res.json).toMatchObject({ code: 'TIMESTAMP_UNAVAILABLE' });
    expect(flagState(app, 'checkout.new-flow')).toBe('ENABLED');
    const { json } = await audit(app, '/v1/audit/entries?limit=100', auditor);
    const mine = (json.entries as Array<Record<string, unknown>>).filter((e) => e.decision_id === res.decisionId);
    expect(mine.map((e) => e.entry_type)).toEqual(['change.decision', 'change.outcome']);
    expect(mine[1]).toMatchObject({ outcome: { status: 'not_forwarded', error_code: 'TIMESTAMP_UNAVAILABLE' } });
    const metrics = await (await fetch(app.controlUrl + '/metrics')).text();
    expect(metrics).toMatch(/flaggate_errors_total\{code="TIMESTAMP_UNAVAILABLE"\} [1-9]/);
  });
});

describe('with timestamp.onUnavailable: queue', () => {
  let tsa: OpensslTsa;
  let app: TestFlaggate;
  let stop: () => Promise<void>;

  beforeAll(async () => {
    ({ app, tsa, stop } = await withExternalTsa('queued', 'ec', { 'timestamp.onUnavailable': 'queue' }));
  }, 60_000);
  afterAll(() => stop?.());

  it('accepts changes while no TSA answers, and raises the alert metrics until they are covered', async () => {
    await tsa.close();
    const release = await app.token('riley', 'release_engineer');
    const res = await post(app, '/flags/checkout.new-flow/enable', release);
    expect(res.status).toBe(200);
    expect(flagState(app, 'checkout.new-flow')).toBe('ENABLED');
    const metrics = await (await fetch(app.controlUrl + '/metrics')).text();
    expect(metrics).toMatch(/flaggate_timestamp_failures_total [1-9]/);
    expect(metrics).toMatch(/flaggate_timestamp_uncovered_entries [1-9]/);
    const auditor = await app.token('ada', 'auditor');
    const verify = await audit(app, '/v1/audit/verify', auditor);
    expect(verify.status).toBe(409);
    expect(verify.json).toMatchObject({ timestamps: { ok: false } });
  });
});
