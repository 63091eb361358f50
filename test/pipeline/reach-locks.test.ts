/**
 * A change to an object many flags use (an Unleash segment, read with the strategies using it as
 * its reach) runs alone on its platform: a change by flag name (a strategy given that segment)
 * cannot start its state read while the segment's change reads its reach and applies it, nor the
 * other way round, so no flag joins the reach unrecorded. Changes by flag name still run together.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, NewEntry } from '../../src/audit/entry.js';
import type { Recorder } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import type { Actor } from '../../src/identify/actor.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { handleRequest, type Stages } from '../../src/pipeline/index.js';
import { decidedRequest } from '../../src/platforms/request/index.js';
import type { Platform } from '../../src/platforms/index.js';
import type { Decision } from '../../src/policy/decision.js';
import { rawRequest } from '../support/raw-request.js';

const actor: Actor = { id: 'riley', displayName: 'Riley', authMethod: 'jwt', roles: ['release_engineer'], claims: {} };
const policy = { revision: 'r1', sha256: 'ab'.repeat(32) };
const allow: Decision = { allow: true, reasons: [], requiredApprovals: 0, approverRoles: [], holdForApprovals: false, alerts: [], policy };
const tick = () => new Promise((r) => setTimeout(r, 5));

function harness() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  let seq = 0;
  const committed = (entry: NewEntry): AuditEntry => {
    seq += 1;
    return { ...entry, chain_id: 'c', seq, prev_hash: '0'.repeat(64), event_id: `e${seq}`, timestamp_utc: 't', hash: String(seq).padStart(64, '0'), unrecorded: null } as AuditEntry;
  };
  const record: Recorder = {
    append: async (e) => committed(e),
    durable: async (e) => committed(e),
    secure: async () => undefined,
    settled: async (e) => committed(e),
    settle: async () => undefined,
  };
  // `/<key>` changes the object named key; a state read waits for its gate once opened with `hold`.
  const platform: Platform = {
    name: 'fake',
    classify: (req) => {
      const flagKey = decodeURIComponent(req.path.slice(1));
      return { kind: 'write', change: { platform: 'fake', action: 'x.update', flagKey, request: { method: 'POST', path: req.path, bodySha256: 'x' } }, forward: decidedRequest('POST', req.path, null, Buffer.alloc(0)) };
    },
    readState: async (change) => {
      log.push(`read ${change.flagKey}`);
      if (gates.has(change.flagKey)) await new Promise<void>((resolve) => gates.set(change.flagKey, resolve));
      return {};
    },
    settled: () => 'unknown',
    forward: async (req) => (log.push(`forward ${decodeURIComponent(req.target.slice(1))}`), { status: 200, headers: {}, body: Buffer.from('{}') }),
  };
  const stages: Stages = {
    clock: fixedClock(0),
    metrics: createMetrics(),
    logger: createLogger({ level: 'silent' }),
    identify: async () => actor,
    platform,
    policy: { decide: () => allow, revision: policy },
    record,
    refusals: { admit: () => true },
    contextClaims: { reasonClaim: 'reason', ticketClaim: 'ticket' },
  };
  const send = (key: string) => handleRequest(rawRequest('POST', `/${encodeURIComponent(key)}`, '', { authorization: 'Bearer t' }), stages);
  const hold = (key: string) => gates.set(key, () => undefined);
  const open = (key: string) => gates.get(key)!();
  return { log, send, hold, open };
}

describe('locks around a change whose reach is read from the platform', () => {
  it("a segment's change waits for a change by flag name in flight, and one by flag name waits for it", async () => {
    const h = harness();
    h.hold('checkout');
    const strategy = h.send('checkout');
    await tick();
    const segment = h.send('segment:3');
    await tick();
    expect(h.log).toEqual(['read checkout']);
    h.hold('segment:3');
    h.open('checkout');
    await strategy;
    await tick();
    expect(h.log).toEqual(['read checkout', 'forward checkout', 'read segment:3']);
    const later = h.send('search');
    await tick();
    expect(h.log.at(-1)).toBe('read segment:3');
    h.open('segment:3');
    await Promise.all([segment, later]);
    expect(h.log.slice(2)).toEqual(['read segment:3', 'forward segment:3', 'read search', 'forward search']);
  });

  it('changes by flag name run together', async () => {
    const h = harness();
    h.hold('checkout');
    const first = h.send('checkout');
    await tick();
    const second = h.send('search');
    await second;
    expect(h.log).toEqual(['read checkout', 'read search', 'forward search']);
    h.open('checkout');
    await first;
  });
});
