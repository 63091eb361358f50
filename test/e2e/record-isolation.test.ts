/**
 * One sidecar in front of a flagd file, under concurrent legitimate writes, while other clients send
 * changes no audit entry can carry as is (Infinity, very deep JSON, a lone surrogate, a path longer
 * than the entry schema allows), authenticated and not. Their entries share commit groups with the
 * legitimate ones: none of the legitimate writes may be refused, none of their outcomes lost, and
 * the chain verifies.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLedgerReader, rowToEntry, type AuditEntry, type StoredRow } from '../../src/audit/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

// ISOLATION_WRITES and ISOLATION_POISONS raise the requests per client for a longer run.
const writers = Number(process.env.ISOLATION_WRITERS ?? 64);
const writesEach = Number(process.env.ISOLATION_WRITES ?? 1);
const poisoners = 8;
const poisonsEach = Number(process.env.ISOLATION_POISONS ?? 4);

let app: TestFlaggate;
let release: string;
let mallory: string;
let auditor: string;

beforeAll(async () => {
  app = await startTestFlaggate();
  [release, mallory, auditor] = await Promise.all([app.token('riley', 'release_engineer'), app.token('mallory', 'release_engineer'), app.token('ada', 'auditor')]);
});
afterAll(async () => app?.stop());

function ledger(): AuditEntry[] {
  app.ledger.head(); // outcomes still waiting for a group are committed by a read through the sidecar
  const reader = openLedgerReader(`${app.dataDir}/ledger.sqlite`);
  try {
    return (reader.read(0, 1_000_000) as StoredRow[]).map(rowToEntry);
  } finally {
    reader.close();
  }
}

async function send(method: string, path: string, token: string | null, body?: string) {
  const headers: Record<string, string> = { 'x-flaggate-reason': 'load test', 'x-flaggate-ticket': 'CHG-9' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(app.proxyUrl + path, { method, headers, body });
  const json = (await res.json().catch(() => ({}))) as { code?: string };
  return { status: res.status, code: json.code, decisionId: res.headers.get('x-flaggate-decision-id') };
}

const definition = (targeting: string) => `{"state":"ENABLED","variants":{"on":true,"off":false},"defaultVariant":"on","targeting":${targeting}}`;
const deep = 20_000;
/** Requests whose entries canonical JSON or the entry schema refuse. */
const poisons: Array<{ name: string; method: string; path: string; body?: string }> = [
  { name: 'Infinity (1e999)', method: 'PUT', path: '/flags/checkout.new-flow', body: definition('{"x":1e999}') },
  { name: 'very deep JSON', method: 'PUT', path: '/flags/checkout.new-flow', body: definition(`{"x":${'['.repeat(deep)}${']'.repeat(deep)}}`) },
  { name: 'a lone surrogate', method: 'PUT', path: '/flags/checkout.new-flow', body: definition('{"x":"\\ud800"}') },
  { name: 'a path longer than the schema allows', method: 'POST', path: `/flags/checkout.new-flow/enable?pad=${'p'.repeat(6000)}` },
];

describe('group commit isolation under load', () => {
  it(`commits ${writers} writers' changes and their outcomes beside ${poisoners} clients sending unrecordable requests`, async () => {
    const before = JSON.parse(readFileSync(`${app.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, unknown> };
    const legit = Array.from({ length: writers }, async (_, w) => {
      const out: Array<Awaited<ReturnType<typeof send>>> = [];
      for (let i = 0; i < writesEach; i += 1) out.push(await send('POST', `/flags/search.ranking-v2/${(w + i) % 2 ? 'enable' : 'disable'}`, release));
      return out;
    });
    // Half the poisoning clients hold a valid token, half go through the unauthenticated-attempt path.
    const bad = Array.from({ length: poisoners }, async (_, c) => {
      const out: Array<Awaited<ReturnType<typeof send>> & { poison: string; authenticated: boolean }> = [];
      for (let i = 0; i < poisonsEach; i += 1) {
        const p = poisons[(c + i) % poisons.length]!;
        const authenticated = c % 2 === 0;
        out.push({ ...(await send(p.method, p.path, authenticated ? mallory : c % 4 === 1 ? 'forged.token.value' : null, p.body)), poison: p.name, authenticated });
      }
      return out;
    });
    const t0 = performance.now();
    const [good, poisoned] = await Promise.all([Promise.all(legit).then((r) => r.flat()), Promise.all(bad).then((r) => r.flat())]);

    console.log(`load: ${good.length} legitimate writes beside ${poisoned.length} unrecordable ones in ${Math.round(performance.now() - t0)} ms`);
    expect(good.filter((r) => r.status !== 200)).toEqual([]);
    for (const p of poisoned) {
      expect(p.status, `${p.poison}: ${p.code}`).toBeGreaterThanOrEqual(400);
      expect(p.status, `${p.poison}: ${p.code}`).not.toBe(503);
      if (!p.authenticated) expect(p.status).toBe(401);
    }

    const entries = ledger();
    const byDecision = new Map<string, AuditEntry[]>();
    for (const e of entries) byDecision.set(e.decision_id, [...(byDecision.get(e.decision_id) ?? []), e]);
    for (const g of good) {
      const mine = byDecision.get(g.decisionId!) ?? [];
      expect(mine.map((e) => [e.entry_type, e.outcome?.status ?? null, e.unrecorded ?? null])).toEqual([
        ['change.decision', null, null],
        ['change.outcome', 'applied', null],
      ]);
    }
    // Every unrecordable request left an entry of its own: a capped stand-in, never the poison.
    for (const p of poisoned) {
      const mine = byDecision.get(p.decisionId!) ?? [];
      expect(mine, p.poison).toHaveLength(1);
      expect(mine[0]!.decision.allow).toBe(false);
      expect(Buffer.byteLength(JSON.stringify(mine[0]), 'utf8')).toBeLessThan(16 * 1024);
    }
    const standIns = entries.filter((e) => (e.unrecorded ?? null) !== null);
    expect(standIns.length).toBeGreaterThan(0);
    // Refused as unrecordable, or earlier by the policy engine that cannot read the input either.
    // Strict parsing refuses most poisons at adapt; what gets past it is recorded as a capped stand-in.
    for (const p of poisoned.filter((q) => q.authenticated)) {
      expect(['AUDIT_ENTRY_UNRECORDABLE', 'POLICY_EVAL_FAILED', 'ADAPT_BODY_MALFORMED', 'ADAPT_QUERY_REFUSED'], p.poison).toContain(p.code);
    }

    // Nothing unrecorded reached the platform.
    const after = JSON.parse(readFileSync(`${app.dataDir}/flags.flagd.json`, 'utf8')) as { flags: Record<string, unknown> };
    expect(after.flags['checkout.new-flow']).toEqual(before.flags['checkout.new-flow']);

    const verify = await fetch(`${app.controlUrl}/v1/audit/verify`, { headers: { authorization: `Bearer ${auditor}` } });
    expect(await verify.json()).toMatchObject({ ok: true });
  }, 60_000);
});
