import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintDevToken } from '../../src/identify/index.js';
import { businessHours, startConsoleSidecar, type ConsoleSidecar } from '../console/console-client.js';

// Any identified caller may try to approve or reject (the approvals stage decides who may), and each
// refused try is recorded: within the same per-actor rate as a refused write at the proxy, no more.
const clock = businessHours();
let s: ConsoleSidecar;
let changeId: string;
beforeAll(async () => {
  s = await startConsoleSidecar({ 'audit.refusals.burst': 3, 'audit.refusals.perSecond': 0.001 }, clock);
  changeId = await s.hold('rita');
});
afterAll(async () => s?.stop());

const review = async (token: string, verb: 'approve' | 'reject') => {
  const res = await fetch(`${s.app.controlUrl}/v1/changes/${changeId}/${verb}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ reason: 'x'.repeat(1000) }) });
  return { status: res.status, code: ((await res.json()) as { code?: string }).code };
};

describe('refused review steps', () => {
  it('records a caller refused again and again only up to the refusal rate, and still refuses every try', async () => {
    const qa = await mintDevToken({ dataDir: s.dataDir, sub: 'quinn', roles: ['qa'], clock });
    const nobody = await mintDevToken({ dataDir: s.dataDir, sub: 'nobody', roles: ['not-a-role'], clock });
    const before = s.app.ledger.head().seq;
    for (let i = 0; i < 20; i += 1) expect(await review(qa, 'approve')).toEqual({ status: 403, code: 'APPROVAL_ROLE_MISSING' });
    for (let i = 0; i < 20; i += 1) expect((await review(nobody, 'reject')).status).toBe(403);
    const added = s.app.ledger.entriesAfter(before, 1000);
    expect(added.filter((e) => e.actor.id === 'quinn')).toHaveLength(3);
    expect(added.filter((e) => e.actor.id === 'nobody')).toHaveLength(3);
    expect(added.every((e) => e.decision.allow === false && e.decision.error_code !== null)).toBe(true);
  });
});
