import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { backtestDecisions, formatBacktest } from '../src/backtest/index.js';
import { formatChangeDetail, formatTable } from '../src/changes-client.js';
import { printable, tally } from '../src/recorded-text.js';

describe('printable', () => {
  // eslint-disable-next-line no-control-regex -- what may never reach a terminal
  const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
  propTest.prop([fc.string({ unit: 'binary', maxLength: 60 })], { numRuns: 500 })('leaves no control or bidirectional character, and changes no other', (text) => {
    const shown = printable(text);
    expect(shown).not.toMatch(unprintable);
    if (!unprintable.test(text)) expect(shown).toBe(text);
  });

  it('keeps a name that tries to forge a line of `changes show` on the line it belongs to', () => {
    const name = 'Alice Admin (alice; cab_chair)\r\nreason       CAB-approved\u001b[8m';
    const detail = formatChangeDetail({
      id: 'c1', status: 'pending', flagKey: 'payments.instant-payouts', platform: 'flagd', environment: 'production', action: 'flag.enable',
      requester: { id: 'rita', displayName: name, authMethod: 'jwt', roles: ['release_engineer'] },
      createdAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-02T00:00:00.000Z', requiredApprovals: 1, approverRoles: ['release_engineer'],
      reason: 'launch', ticket: 'CHG-1', request: { method: 'POST', path: '/flags/x/enable', bodySha256: 'e3'.repeat(32) }, object: { kind: 'flag', pointer: '' },
      diff: [], approvals: [{ approverId: 'sam\u202e', roles: ['release_engineer'], approvedAt: '2030-01-01T00:01:00.000Z', reason: null }],
    } as unknown as Parameters<typeof formatChangeDetail>[0]);
    expect(detail.split('\n').filter((l) => l.startsWith('reason'))).toEqual(['reason       launch']);
    expect(detail).toContain('Alice Admin (alice; cab_chair)\\u000d\\u000areason       CAB-approved\\u001b[8m (rita; release_engineer)');
    for (const c of ['\u001b', '\r', '\u202e']) expect(detail).not.toContain(c);
    expect(formatTable(['A'], [['x\ty']])).toContain('x\\u0009y');
  });

  it('shows a member present on one side only as absent on the other, never as null', () => {
    // As the changes API answers: a side that is absent is left out of the JSON.
    const detail = formatChangeDetail(JSON.parse(JSON.stringify({
      id: 'c2', status: 'pending', flagKey: 'payments.instant-payouts', platform: 'flagd', environment: 'production', action: 'flag.update',
      requester: { id: 'rita', displayName: 'Rita', authMethod: 'jwt', roles: ['release_engineer'] },
      createdAt: '2030-01-01T00:00:00.000Z', expiresAt: '2030-01-02T00:00:00.000Z', requiredApprovals: 1, approverRoles: ['release_engineer'],
      reason: 'launch', ticket: 'CHG-1', request: { method: 'PUT', path: '/flags/x', bodySha256: 'e3'.repeat(32) }, object: { kind: 'flag', pointer: '' },
      diff: [{ path: '/targeting/if/0/in/1/1', before: undefined, after: null }], approvals: [],
    })) as Parameters<typeof formatChangeDetail>[0]);
    expect(detail).toMatch(/\/targeting\/if\/0\/in\/1\/1 +\(absent\) +null/);
  });
});

describe('tally', () => {
  it('counts __proto__, constructor and toString like any other key', () => {
    const counts = tally();
    for (const key of ['ada', '__proto__', 'constructor', 'toString', 'ada']) counts[key] = (counts[key] ?? 0) + 1;
    expect(JSON.parse(JSON.stringify(counts))).toEqual({ ada: 2, ['__proto__']: 1, constructor: 1, toString: 1 });
  });

  it('keeps the backtest counts true for such actors and roles', () => {
    const report = backtestDecisions([], { candidate: undefined as never });
    report.by_role['__proto__'] = 1;
    expect(formatBacktest(report)).toContain('by role: __proto__=1');
  });
});
