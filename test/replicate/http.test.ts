import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openLedger, type AuditEntry } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { backoffDelay } from '../../src/replicate/sinks/backoff.js';
import { createHttpSink, signBody } from '../../src/replicate/index.js';
import { sampleEntry } from '../support/entries.js';
import { makeTempDir } from '../support/temp-dir.js';

const hecToken = '11111111-2222-4333-8444-555555555555';
const webhookSecret = 'whsec-test';

interface Received {
  headers: IncomingMessage['headers'];
  body: string;
}

/**
 * A double of the Splunk HEC `/services/collector/event` endpoint, with the documented replies:
 * 401 {"text":"Token is required","code":2}, 403 {"text":"Invalid token","code":4},
 * 400 {"text":"Invalid data format","code":6}, 503 {"text":"Server is busy","code":9},
 * 200 {"text":"Success","code":0}. `busy` answers 503 that many times first.
 */
function hecDouble() {
  const state = { busy: 0, requests: 0, events: [] as Array<{ time: number; sourcetype: string; event: AuditEntry }> };
  const reply = (res: ServerResponse, status: number, text: string, code: number) =>
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ text, code }));
  const server = createServer(async (req, res) => {
    state.requests += 1;
    const body = await readBody(req);
    if (req.url !== '/services/collector/event' || req.method !== 'POST') return reply(res, 404, 'The requested URL was not found on this server.', 404);
    const auth = req.headers.authorization;
    if (!auth) return reply(res, 401, 'Token is required', 2);
    if (!auth.startsWith('Splunk ')) return reply(res, 401, 'Invalid authorization', 3);
    if (auth !== `Splunk ${hecToken}`) return reply(res, 403, 'Invalid token', 4);
    if (state.busy > 0) {
      state.busy -= 1;
      return reply(res, 503, 'Server is busy', 9);
    }
    try {
      // HEC takes event objects back to back, with no separator.
      state.events.push(...(JSON.parse(`[${body.replace(/}\s*{"time"/g, '},{"time"')}]`) as typeof state.events));
    } catch {
      return reply(res, 400, 'Invalid data format', 6);
    }
    return reply(res, 200, 'Success', 0);
  });
  return { server, state };
}

function webhookDouble() {
  const state = { requests: [] as Received[], accepted: [] as AuditEntry[] };
  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    state.requests.push({ headers: req.headers, body });
    const given = Buffer.from(String(req.headers['x-flaggate-signature'] ?? ''));
    const expected = Buffer.from(`sha256=${signBody(webhookSecret, body)}`);
    if (given.length !== expected.length || !timingSafeEqual(given, expected) || !/^\d+$/.test(String(req.headers['x-flaggate-timestamp']))) {
      return res.writeHead(401).end('bad signature');
    }
    state.accepted.push(...(JSON.parse(body) as AuditEntry[]));
    return res.writeHead(204).end();
  });
  return { server, state };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const hec = hecDouble();
const hook = webhookDouble();
let hecUrl: string;
let hookUrl: string;
let entries: AuditEntry[];
const tmp = makeTempDir();

beforeAll(async () => {
  hecUrl = `${await listen(hec.server)}/services/collector/event`;
  hookUrl = `${await listen(hook.server)}/flaggate`;
  const ledger = openLedger({ path: `${tmp.dir}/ledger.sqlite`, chainId: 'siem', clock: fixedClock(1_700_000_000_000) });
  entries = Array.from({ length: 4 }, (_, i) => ledger.append(sampleEntry(i + 1)));
  ledger.close();
});
afterAll(async () => {
  await Promise.all([hec.server, hook.server].map((s) => new Promise((r) => s.close(r))));
  tmp.cleanup();
});
afterEach(() => {
  hec.state.busy = 0;
  hec.state.requests = 0;
  hec.state.events.length = 0;
  hook.state.requests.length = 0;
  hook.state.accepted.length = 0;
});

const fast = { baseMs: 1, maxMs: 5 };

describe('createHttpSink (splunk_hec)', () => {
  it('sends a batch of HEC events with the token and the flaggate:audit sourcetype', async () => {
    const sink = createHttpSink({ name: 'splunk', required: false, url: hecUrl, format: 'splunk_hec', token: hecToken, backoff: fast });
    expect(await sink.deliver(entries)).toBe(4);
    expect(hec.state.requests).toBe(1);
    expect(hec.state.events.map((e) => [e.sourcetype, e.event.seq, e.event.hash])).toEqual(entries.map((e) => ['flaggate:audit', e.seq, e.hash]));
    expect(hec.state.events[0]!.time).toBe(1_700_000_000);
  });

  it('retries a busy collector with backoff until it accepts', async () => {
    hec.state.busy = 2;
    const sink = createHttpSink({ name: 'splunk', required: false, url: hecUrl, format: 'splunk_hec', token: hecToken, backoff: fast });
    expect(await sink.deliver(entries.slice(0, 2))).toBe(2);
    expect(hec.state.requests).toBe(3);
    expect(hec.state.events).toHaveLength(2);
  });

  it('skips entries it already delivered', async () => {
    const sink = createHttpSink({ name: 'splunk', required: false, url: hecUrl, format: 'splunk_hec', token: hecToken, backoff: fast });
    await sink.deliver(entries.slice(0, 2));
    expect(await sink.deliver(entries)).toBe(4);
    expect(hec.state.events.map((e) => e.event.seq)).toEqual([1, 2, 3, 4]);
  });

  it.each([
    { name: 'the token is wrong', token: 'wrong', busy: 0, requests: 1 },
    { name: 'the collector stays busy past the attempt limit', token: hecToken, busy: 10, requests: 3 },
  ])('rejects with REPLICATE_UNACKED when $name', async ({ token, busy, requests }) => {
    hec.state.busy = busy;
    const sink = createHttpSink({ name: 'splunk', required: true, url: hecUrl, format: 'splunk_hec', token, maxAttempts: 3, backoff: fast });
    await expect(sink.deliver(entries)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED', details: { sink: 'splunk' } });
    expect(hec.state.requests).toBe(requests);
    expect(hec.state.events).toHaveLength(0);
  });

  it('rejects with REPLICATE_UNACKED when nothing listens', async () => {
    const sink = createHttpSink({ name: 'splunk', required: true, url: 'http://127.0.0.1:1/services/collector/event', format: 'splunk_hec', token: hecToken, maxAttempts: 2, backoff: fast });
    await expect(sink.deliver(entries)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED' });
  });
});

describe('createHttpSink (webhook)', () => {
  it('posts a JSON array signed with HMAC-SHA256 over the body, with a timestamp', async () => {
    const sink = createHttpSink({ name: 'hook', required: false, url: hookUrl, format: 'webhook', secret: webhookSecret, now: () => 1_700_000_123 });
    expect(await sink.deliver(entries)).toBe(4);
    expect(hook.state.accepted.map((e) => e.hash)).toEqual(entries.map((e) => e.hash));
    expect(hook.state.requests[0]!.headers['x-flaggate-timestamp']).toBe('1700000123');
  });

  it('rejects with REPLICATE_UNACKED when the receiver refuses the signature', async () => {
    const sink = createHttpSink({ name: 'hook', required: false, url: hookUrl, format: 'webhook', secret: 'another-secret', backoff: fast });
    await expect(sink.deliver(entries)).rejects.toMatchObject({ code: 'REPLICATE_UNACKED' });
    expect(hook.state.requests).toHaveLength(1);
    expect(hook.state.accepted).toHaveLength(0);
  });
});

describe('backoffDelay', () => {
  it.each([
    { attempt: 0, random: 0.999, want: 99 },
    { attempt: 3, random: 0.5, want: 400 },
    { attempt: 10, random: 0.999, want: 4995 },
    { attempt: 2, random: 0, want: 0 },
  ])('is a full-jitter draw under min(max, base * 2^$attempt)', ({ attempt, random, want }) => {
    expect(backoffDelay(attempt, { baseMs: 100, maxMs: 5000 }, () => random)).toBe(want);
  });
});
