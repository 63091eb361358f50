import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

let app: TestFlaggate;

beforeAll(async () => {
  // A required upstream that never answers (nothing listens on port 1), and a backlog bound of 2.
  app = await startTestFlaggate({
    'replicate.sinks': [
      { type: 'jsonl', name: 'jsonl', path: 'audit.jsonl', required: true },
      { type: 'postgres', name: 'central', url: 'postgres://flaggate@127.0.0.1:1/ledger', required: true },
    ],
    'replicate.maxBacklog': 2,
  });
});
afterAll(async () => app?.stop());

describe('/readyz', () => {
  it('turns not ready, naming the sink, once a required upstream falls further behind than the backlog bound', async () => {
    expect((await fetch(`${app.controlUrl}/readyz`)).status).toBe(200);
    const release = await app.token('riley', 'release_engineer');
    for (let i = 0; i < 3; i += 1) {
      const res = await fetch(`${app.proxyUrl}/flags/checkout.new-flow/enable`, { method: 'POST', headers: { authorization: `Bearer ${release}`, 'x-flaggate-reason': 'r', 'x-flaggate-ticket': 'CHG-4' } });
      expect(res.status).toBe(503);
    }
    const ready = await fetch(`${app.controlUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ ready: false, checks: { 'sink:central': { ok: false, detail: expect.stringMatching(/^[3-9]\d* entries behind/) }, ledger: { ok: true } } });
  });
});
