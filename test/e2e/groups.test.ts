import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { mintDevToken } from '../../src/identify/index.js';
import { startTestFlaggate, type TestFlaggate } from '../support/flaggate.js';

// Group membership is often self-service; role assignment is not. A group must never pass for the
// role of the same name: group names reach the policy as group:<name>, mapped only where the
// policy's role_mapping says so.
let app: TestFlaggate;
beforeAll(async () => {
  app = await startTestFlaggate({ 'identity.groupsClaim': 'groups' });
});
afterAll(async () => app?.stop());

const withGroups = (sub: string, groups: unknown) => mintDevToken({ dataDir: app.dataDir, sub, roles: [], claims: { groups }, clock: systemClock });

async function enable(token: string, flag: string): Promise<number> {
  const res = await fetch(`${app.proxyUrl}/flags/${flag}/enable`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'x-flaggate-reason': 'groups test', 'x-flaggate-ticket': 'CHG-7' } });
  await res.arrayBuffer();
  return res.status;
}

describe('groups from the token', () => {
  it('refuses a write by a member of a group named like a role, and records the group as group:<name>', async () => {
    expect(await enable(await withGroups('mallory', ['flag_admin', 'release_engineer']), 'search.ranking-v2')).toBe(403);
    const decision = app.ledger.entriesAfter(0, 1000).findLast((e) => e.actor.id === 'mallory' && e.entry_type === 'change.decision')!;
    expect(decision.actor.roles).toEqual(['group:flag_admin', 'group:release_engineer']);
    expect(decision.decision.allow).toBe(false);
    expect(decision.decision.reasons).toContain("unknown role 'group:flag_admin'");
  });

  it('allows a write by a member of a group the role mapping names (group:flaggate-release)', async () => {
    expect(await enable(await withGroups('alice', ['flaggate-release']), 'search.ranking-v2')).toBe(200);
    const decision = app.ledger.entriesAfter(0, 1000).findLast((e) => e.actor.id === 'alice' && e.entry_type === 'change.decision')!;
    expect(decision.decision.allow).toBe(true);
  });

  it('refuses a token whose roles claim holds a group: name as a role', async () => {
    const token = await mintDevToken({ dataDir: app.dataDir, sub: 'eve', roles: ['group:flaggate-admin'], claims: {}, clock: systemClock });
    expect(await enable(token, 'search.ranking-v2')).toBe(401);
  });
});
