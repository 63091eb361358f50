/**
 * The durability order, pinned: recording fakes stand in for every stage, and each path through
 * the pipeline (allowed, denied, held, approved, refused by a failure, timed out) must call them in
 * exactly this order. Nothing is forwarded before its decision entry is committed, covered and
 * acknowledged; a change that is not allowed never reaches `forward`.
 */
import { describe, expect, it } from 'vitest';
import type { AuditEntry, NewEntry } from '../../src/audit/entry.js';
import type { Recorder } from '../../src/audit/index.js';
import { fixedClock } from '../../src/clock.js';
import { FlaggateError } from '../../src/errors.js';
import type { Actor } from '../../src/identify/actor.js';
import { createLogger } from '../../src/log.js';
import { createMetrics } from '../../src/metrics.js';
import { handleRequest, resumeHeld, type ApprovalsHook, type Stages } from '../../src/pipeline/index.js';
import { decidedRequest } from '../../src/platforms/request/index.js';
import type { Platform } from '../../src/platforms/index.js';
import type { Decision } from '../../src/policy/decision.js';
import { rawRequest } from '../support/raw-request.js';

const actor: Actor = { id: 'riley', displayName: 'Riley', authMethod: 'jwt', roles: ['release_engineer'], claims: {} };
const policyRevision = { revision: 'r1', sha256: 'ab'.repeat(32) };
const allow: Decision = { allow: true, reasons: [], requiredApprovals: 0, approverRoles: [], holdForApprovals: false, alerts: [], policy: policyRevision };
const deny: Decision = { ...allow, allow: false, reasons: ['no'] };
const hold: Decision = { ...allow, allow: false, reasons: ['needs approval'], requiredApprovals: 1, holdForApprovals: true };

interface Options {
  decisions?: Decision[];
  secure?: () => Promise<void>;
  forward?: () => Promise<{ status: number; headers: Record<string, string>; body: Buffer }>;
  approvals?: ApprovalsHook;
  /** Instead of committing at once: what `settled` answers (its options are recorded beside it). */
  settled?: (entry: NewEntry, options: unknown) => Promise<AuditEntry>;
}

function harness(o: Options = {}) {
  const calls: string[] = [];
  let seq = 0;
  const decisions = [...(o.decisions ?? [allow])];
  const committed = (entry: NewEntry): AuditEntry => {
    seq += 1;
    return { ...entry, chain_id: 'c', seq, prev_hash: '0'.repeat(64), event_id: `e${seq}`, timestamp_utc: 't', hash: String(seq).padStart(64, '0'), unrecorded: null } as AuditEntry;
  };
  const label = (e: NewEntry) => (e.entry_type === 'change.outcome' ? `outcome:${e.outcome!.status}` : `${e.entry_type}:${e.decision.allow ? 'allow' : (e.decision.error_code ?? 'deny')}`);
  const record: Recorder = {
    append: async (e) => (calls.push(`append ${label(e)}`), committed(e)),
    durable: async (e) => (calls.push(`durable ${label(e)}`), committed(e)),
    secure: async (e) => {
      calls.push(`secure ${e.seq}`);
      await o.secure?.();
    },
    settled: async (e, options) => (calls.push(`settled ${label(e)}`), o.settled ? o.settled(e, options) : committed(e)),
    settle: async (e) => void calls.push(`settle ${e.seq}`),
  };
  const change = { platform: 'fake', action: 'flag.enable', flagKey: 'f', environment: 'production', request: { method: 'POST', path: '/flags/f/enable', bodySha256: 'x' } };
  const platform: Platform = {
    name: 'fake',
    classify: (req) => {
      calls.push('classify');
      return req.method === 'GET'
        ? { kind: 'read', read: { platform: 'fake', action: 'flag.read' }, forward: decidedRequest('GET', '/flags', null, Buffer.alloc(0)) }
        : { kind: 'write', change, forward: decidedRequest('POST', '/flags/f/enable', null, Buffer.alloc(0)) };
    },
    readState: async () => (calls.push('readState'), { state: 'DISABLED' }),
    settled: () => 'unknown',
    forward: async () => {
      calls.push('forward');
      return o.forward ? o.forward() : { status: 200, headers: {}, body: Buffer.from('{}') };
    },
  };
  const stages: Stages = {
    clock: fixedClock(0),
    metrics: createMetrics(),
    logger: createLogger({ level: 'silent' }),
    identify: async () => (calls.push('identify'), actor),
    platform,
    policy: { decide: () => (calls.push('decide'), decisions.shift() ?? allow), revision: policyRevision },
    record,
    refusals: { admit: () => true },
    contextClaims: { reasonClaim: 'reason', ticketClaim: 'ticket' },
    ...(o.approvals ? { approvals: o.approvals } : {}),
  };
  return { calls, stages, change };
}

const write = () => rawRequest('POST', '/flags/f/enable', '', { authorization: 'Bearer t' });

describe('the pipeline calls its stages in the durability order', () => {
  it('allowed: decide, commit, cover and replicate, then forward, then the outcome', async () => {
    const h = harness();
    expect((await handleRequest(write(), h.stages)).status).toBe(200);
    expect(h.calls).toEqual(['identify', 'classify', 'readState', 'decide', 'append change.decision:allow', 'secure 1', 'forward', 'settled outcome:applied']);
  });

  it('allowed: the outcome is queued to ride the next commit before the reply, which does not wait for that commit', async () => {
    const asked: unknown[] = [];
    const h = harness({ settled: (_e, options) => (asked.push(options), new Promise<AuditEntry>(() => undefined)) });
    expect((await handleRequest(write(), h.stages)).status).toBe(200);
    expect(h.calls.at(-1)).toBe('settled outcome:applied');
    expect(asked).toEqual([{ upstream: 'soon', commit: 'soon' }]);
  });

  it('refused by the platform: a failed outcome is committed before the reply', async () => {
    const asked: unknown[] = [];
    let committed = false;
    const h = harness({
      forward: async () => ({ status: 409, headers: {}, body: Buffer.from('{}') }),
      settled: (e, options) => (asked.push(options), new Promise<AuditEntry>((resolve) => setTimeout(() => ((committed = true), resolve(e as AuditEntry)), 20))),
    });
    expect((await handleRequest(write(), h.stages)).status).toBe(409);
    expect(committed, 'the reply came after the outcome was committed').toBe(true);
    expect(h.calls.at(-1)).toBe('settled outcome:failed');
    expect(asked).toEqual([{ upstream: 'soon' }]);
  });

  it('denied: a refusal entry, nothing forwarded', async () => {
    const h = harness({ decisions: [deny] });
    expect((await handleRequest(write(), h.stages)).status).toBe(403);
    expect(h.calls).toEqual(['identify', 'classify', 'readState', 'decide', 'settled change.decision:POLICY_DENIED']);
  });

  it('held: the approvals stage answers, nothing is recorded by the pipeline or forwarded', async () => {
    const approvals: ApprovalsHook = { review: async () => ({ held: { status: 202, headers: {}, body: Buffer.from('{}') } }) };
    const h = harness({ decisions: [hold], approvals });
    expect((await handleRequest(write(), h.stages)).status).toBe(202);
    expect(h.calls).toEqual(['identify', 'classify', 'readState', 'decide']);
  });

  it('approved: back through decide, claimed once, then the same durable order', async () => {
    const h = harness();
    const claims: string[] = [];
    const result = await resumeHeld(
      {
        requester: actor, change: h.change, context: { links: {} }, approvals: [], forward: decidedRequest('POST', '/flags/f/enable', null, Buffer.alloc(0)), link: (e) => e,
        claim: async (s) => (claims.push(s), true),
        unchanged: async () => void h.calls.push('unchanged'),
      },
      h.stages,
    );
    expect(result.status).toBe('forwarded');
    expect(claims).toEqual(['applying']);
    expect(h.calls).toEqual(['unchanged', 'decide', 'append change.decision:allow', 'secure 1', 'forward', 'settled outcome:applied']);
  });

  it.each([
    [{ status: 200 }, 'applied'],
    [{ status: 400 }, 'failed'],
    [{ status: 400, mayHaveActed: true }, 'unknown'],
  ])('approved and forwarded with %o: the result carries the outcome the ledger records (%s), for the change request', async (answer, outcome) => {
    const h = harness({ forward: async () => ({ ...answer, headers: {}, body: Buffer.alloc(0) }) });
    const result = await resumeHeld(
      { requester: actor, change: h.change, context: { links: {} }, approvals: [], forward: decidedRequest('POST', '/x', null, Buffer.alloc(0)), link: (e) => e, claim: async () => true, unchanged: async () => undefined },
      h.stages,
    );
    expect(result).toMatchObject({ status: 'forwarded', outcome });
    expect(h.calls.at(-1)).toBe(`settled outcome:${outcome}`);
  });

  it('approved but still short of approvals: nothing claimed, recorded or forwarded', async () => {
    const h = harness({ decisions: [hold] });
    const result = await resumeHeld(
      { requester: actor, change: h.change, context: { links: {} }, approvals: [], forward: decidedRequest('POST', '/x', null, Buffer.alloc(0)), link: (e) => e, claim: async () => true, unchanged: async () => undefined },
      h.stages,
    );
    expect(result).toEqual({ status: 'pending' });
    expect(h.calls).toEqual(['decide']);
  });

  it('refused by a failure: a timestamp or sink that fails stops the change before forward', async () => {
    const h = harness({ secure: async () => Promise.reject(new FlaggateError('REPLICATE_UNACKED', 'sink down')) });
    const reply = await handleRequest(write(), h.stages);
    expect(reply.status).toBe(503);
    expect(h.calls).toEqual(['identify', 'classify', 'readState', 'decide', 'append change.decision:allow', 'secure 1', 'settled outcome:not_forwarded']);
  });

  it('refused by a failure whose not_forwarded outcome the ledger cannot take (a full disk): the client hears the failure, and the outcome is tried again', async () => {
    let attempts = 0;
    const h = harness({
      secure: async () => Promise.reject(new FlaggateError('REPLICATE_UNACKED', 'sink: no space left on device')),
      settled: async (e) => {
        attempts += 1;
        if (attempts === 1) throw new FlaggateError('AUDIT_DISK_FULL', 'the disk holding the ledger is full');
        return { ...e, seq: 2 } as AuditEntry;
      },
    });
    const reply = await handleRequest(write(), h.stages);
    expect(reply.status).toBe(503);
    expect(JSON.parse(reply.body.toString())).toMatchObject({ code: 'REPLICATE_UNACKED' });
    expect(h.calls).not.toContain('forward');
    for (let t = 0; t < 50 && attempts < 2; t += 1) await new Promise((r) => setTimeout(r, 20));
    expect(h.calls.filter((c) => c === 'settled outcome:not_forwarded')).toHaveLength(2);
  });

  it('timed out: the platform may have acted, so the outcome is unknown', async () => {
    const h = harness({ forward: async () => Promise.reject(new FlaggateError('FORWARD_PLATFORM_UNREACHABLE', 'slow', { details: { timedOut: true } })) });
    expect((await handleRequest(write(), h.stages)).status).toBe(502);
    expect(h.calls).toEqual(['identify', 'classify', 'readState', 'decide', 'append change.decision:allow', 'secure 1', 'forward', 'settled outcome:unknown']);
  });

  it('broken off after the request was sent (a reset): the platform may have acted, so the outcome is unknown; never sent: failed', async () => {
    const after = harness({ forward: async () => Promise.reject(new FlaggateError('FORWARD_PLATFORM_UNREACHABLE', 'reset', { details: { timedOut: false, mayHaveActed: true } })) });
    await handleRequest(write(), after.stages);
    expect(after.calls.at(-1)).toBe('settled outcome:unknown');
    const never = harness({ forward: async () => Promise.reject(new FlaggateError('FORWARD_PLATFORM_UNREACHABLE', 'refused', { details: { timedOut: false, mayHaveActed: false } })) });
    await handleRequest(write(), never.stages);
    expect(never.calls.at(-1)).toBe('settled outcome:failed');
  });

  it.each([
    [204, 'applied'],
    [302, 'unknown'],
    [304, 'unknown'],
    [404, 'failed'],
    [503, 'failed'],
  ])('a platform status %i is recorded as %s: only a 2xx is applied', async (status, outcome) => {
    const h = harness({ forward: async () => ({ status, headers: {}, body: Buffer.alloc(0) }) });
    await handleRequest(write(), h.stages);
    expect(h.calls.at(-1)).toBe(`settled outcome:${outcome}`);
  });

  it.each([
    [400, 'unknown'],
    [500, 'unknown'],
    [200, 'applied'],
  ])('a platform that may have written part of a refused change: status %i is recorded as %s', async (status, outcome) => {
    const h = harness({ forward: async () => ({ status, headers: {}, body: Buffer.alloc(0), mayHaveActed: true }) });
    await handleRequest(write(), h.stages);
    expect(h.calls.at(-1)).toBe(`settled outcome:${outcome}`);
  });

  it('a read: a read check, then forward, nothing recorded', async () => {
    const h = harness();
    expect((await handleRequest(rawRequest('GET', '/flags', '', { authorization: 'Bearer t' }), h.stages)).status).toBe(200);
    expect(h.calls).toEqual(['identify', 'classify', 'decide', 'forward']);
  });
});
