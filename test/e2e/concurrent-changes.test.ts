import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';
import { startLaunchDarklyDouble } from '../support/launchdarkly/double.js';

type Flag = Record<string, unknown> & { state: string };
interface Outcome {
  seq: number;
  action: string;
  flag_key: string;
  previous_state: Flag | null;
  new_state: Flag | null;
  outcome: { status: string; error_code: string | null };
}

let app: TestFlaggate;
const context = { 'x-flaggate-reason': 'race', 'x-flaggate-ticket': 'CHG-64' };

const flagInFile = (key: string) => (JSON.parse(readFileSync(join(app.dataDir, 'flags.flagd.json'), 'utf8')) as { flags: Record<string, Flag> }).flags[key]!;
const outcomes = (key: string) => (app.ledger.entriesAfter(0, 100_000) as unknown as Outcome[]).filter((e) => (e as unknown as { entry_type: string }).entry_type === 'change.outcome' && e.flag_key === key);

/** The state a change leaves: enable/disable set `state`, an update replaces the definition. */
function after(flag: Flag, e: Outcome): Flag {
  if (e.action === 'flag.enable' || e.action === 'flag.disable') return { ...flag, state: e.new_state!.state };
  return e.new_state!;
}

/**
 * Replays the applied outcomes from the initial state: each must start from the state the one
 * before left (its previous_state is true), every one is used once, and the end is the file.
 */
function replay(initial: Flag, applied: Outcome[]): Flag {
  let state = initial;
  const left = [...applied];
  while (left.length > 0) {
    const from = left.filter((e) => canonicalJson(e.previous_state) === canonicalJson(state));
    // No-ops (an enable of an enabled flag) leave the state as it is, so they go first.
    const pick = from.find((e) => canonicalJson(after(state, e)) === canonicalJson(state)) ?? from[0];
    const next = pick ? left.indexOf(pick) : -1;
    expect(next, `an applied change starts from ${canonicalJson(state)}`).not.toBe(-1);
    state = after(state, left.splice(next, 1)[0]!);
  }
  return state;
}

function definition(i: number, base: Flag): Flag {
  return { ...base, metadata: { writer: i } };
}

beforeAll(async () => {
  app = await startTestFlaggate();
});
afterAll(async () => app?.stop());

describe('concurrent changes to one flag through a real sidecar', () => {
  it('applies 64 concurrent allowed writes in turn: none refused, none lost, every previous_state true', async () => {
    const key = 'search.ranking-v2';
    const initial = flagInFile(key);
    const release = await app.token('riley', 'release_engineer');
    const send = (i: number) => {
      const headers = { authorization: `Bearer ${release}`, ...context };
      if (i % 3 === 0) return fetch(`${app.proxyUrl}/flags/${key}/disable`, { method: 'POST', headers });
      if (i % 3 === 1) return fetch(`${app.proxyUrl}/flags/${key}/enable`, { method: 'POST', headers });
      return fetch(`${app.proxyUrl}/flags/${key}`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(definition(i, initial)) });
    };
    const replies = await Promise.all(Array.from({ length: 64 }, async (_, i) => {
      const res = await send(i);
      return { status: res.status, code: ((await res.json()) as { code?: string }).code };
    }));
    const applied = outcomes(key).filter((e) => e.outcome.status === 'applied');
    const refused = outcomes(key).filter((e) => e.outcome.status !== 'applied');
    expect(replies.filter((r) => r.status === 200)).toHaveLength(applied.length);
    expect(replies.filter((r) => r.status !== 200)).toEqual(Array(64 - applied.length).fill({ status: 409, code: 'FORWARD_CONFLICT' }));
    expect(refused.map((e) => e.outcome)).toEqual(Array(64 - applied.length).fill(expect.objectContaining({ status: 'failed', error_code: 'FORWARD_CONFLICT' })));
    // One change at a time per flag through one sidecar: each is decided on the state the last one left.
    expect(applied.length).toBe(64);
    expect(replay(initial, applied)).toEqual(flagInFile(key));
  });

  it('applies 64 concurrent approvals of changes held on one flag at most as far as their previous states allow', async () => {
    const key = 'payments.instant-payouts';
    const initial = flagInFile(key);
    const [rita, sam] = await Promise.all([app.token('rita', 'release_engineer'), app.token('sam', 'release_engineer')]);
    const ids: string[] = [];
    for (let i = 0; i < 64; i += 1) {
      const res = await fetch(`${app.proxyUrl}/flags/${key}`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${rita}`, 'content-type': 'application/json', ...context },
        body: JSON.stringify(definition(i, { ...initial, state: i % 2 ? 'ENABLED' : 'DISABLED' })),
      });
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { changeRequestId: string }).changeRequestId);
    }
    const replies = await Promise.all(ids.map(async (id) => {
      const res = await fetch(`${app.controlUrl}/v1/changes/${id}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${sam}`, 'content-type': 'application/json' },
        body: JSON.stringify({ reason: 'ok' }),
      });
      return { status: res.status, json: (await res.json()) as { status?: string; code?: string } };
    }));
    const applied = outcomes(key).filter((e) => e.outcome.status === 'applied');
    expect(replies.filter((r) => r.status === 200 && r.json.status === 'applied')).toHaveLength(applied.length);
    // The others were refused before forwarding (stale at apply) or by the forwarder's compare-and-set.
    for (const r of replies.filter((r) => r.json.status !== 'applied')) expect(['CHANGE_STALE', 'FORWARD_CONFLICT']).toContain(r.json.code);
    expect(applied.length).toBeGreaterThan(0);
    expect(replay(initial, applied)).toEqual(flagInFile(key));
  });

  it('approves two changes held on one flag of a platform without compare-and-set at once: the second is refused as stale, never forwarded', async () => {
    const TOKEN = 'api-concurrent-0123456789';
    const SEMANTIC = 'application/json; domain-model=launchdarkly.semanticpatch';
    const double = await startLaunchDarklyDouble({ token: TOKEN });
    const ld = await startTestFlaggate({ 'platform.name': 'launchdarkly', 'platform.targetUrl': double.url, 'platform.targetToken': TOKEN });
    try {
      await fetch(`${double.url}/api/v2/flags/default`, { method: 'POST', headers: { authorization: TOKEN, 'content-type': 'application/json' }, body: JSON.stringify({ key: 'payments.refunds', name: 'Refunds' }) });
      const [riley, sam, sue] = await Promise.all([ld.token('riley', 'release_engineer'), ld.token('sam', 'release_engineer'), ld.token('sue', 'release_engineer')]);
      const hold = async (kind: string) => {
        const res = await fetch(`${ld.proxyUrl}/api/v2/flags/default/payments.refunds`, {
          method: 'PATCH',
          headers: { authorization: `Bearer ${riley}`, 'content-type': SEMANTIC, ...context },
          body: JSON.stringify({ environmentKey: 'production', instructions: [{ kind }] }),
        });
        expect(res.status).toBe(202);
        return ((await res.json()) as { changeRequestId: string }).changeRequestId;
      };
      // Both decided against production off: on, then an off that is a no-op only from that state.
      const ids = [await hold('turnFlagOn'), await hold('turnFlagOff')];
      const replies = await Promise.all(ids.map(async (id, i) => {
        const res = await fetch(`${ld.controlUrl}/v1/changes/${id}/approve`, {
          method: 'POST',
          headers: { authorization: `Bearer ${i === 0 ? sam : sue}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'ok' }),
        });
        return (await res.json()) as { status?: string; code?: string };
      }));
      expect(replies.filter((r) => r.status === 'applied')).toHaveLength(1);
      expect(replies.filter((r) => r.code === 'CHANGE_STALE')).toHaveLength(1);
      expect(double.received.filter((r) => r.method === 'PATCH')).toHaveLength(1);
      // Whichever won, every decision that was forwarded was decided on the state it found.
      const decided = (ld.ledger.entriesAfter(0, 1000) as unknown as Array<{ entry_type: string; approval: { approved_by: string[] }; decision: { allow: boolean }; previous_state: unknown }>)
        .filter((e) => e.entry_type === 'change.decision' && e.decision.allow && e.approval.approved_by.length > 0);
      expect(decided).toHaveLength(1);
    } finally {
      await ld.stop();
      await double.stop();
    }
  });
});
