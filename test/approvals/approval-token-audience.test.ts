import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalTokenVerifier, type ApprovalBinding } from '../../src/approvals/index.js';
import { fixedClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config/index.js';
import { jwksOf, signWith, testKey, type TestKey } from '../fixtures/jwt/forge.js';
import { makeTempDir } from '../support/temp-dir.js';

const NOW = Date.UTC(2030, 0, 7, 10) / 1000;
const GATE = 'https://gate.test';
const binding: ApprovalBinding = { platform: 'flagd', method: 'POST', path: '/flags/payments.instant-payouts/enable', bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', requesterId: 'rita', ticket: undefined };

let key: TestKey;
const tmp = makeTempDir('flaggate-approval-aud-');
beforeAll(async () => {
  key = await testKey('ES256', 'gate-1');
  writeFileSync(join(tmp.dir, 'gate.jwks.json'), JSON.stringify(jwksOf(key)));
});
afterAll(() => tmp.cleanup());

function verifier(o: { chainId: string; sharedJtis: boolean; peerChains?: string[] }) {
  return createApprovalTokenVerifier({
    issuers: [{ issuer: GATE, audience: 'flaggate-approval', jwksFile: join(tmp.dir, 'gate.jwks.json'), algorithms: ['ES256'], subjectClaim: 'sub', requesterClaim: 'requester' }],
    leewaySeconds: 30,
    tokenBytes: 8192,
    maxLifetimeSeconds: 900,
    chainId: o.chainId,
    sharedJtis: o.sharedJtis,
    peerChains: o.peerChains ?? [],
    platformClaimRequired: false,
    clock: fixedClock(NOW * 1000),
  });
}

const token = (aud: string | string[]) =>
  signWith(key, { iss: GATE, aud: aud as string, sub: 'sam', now: NOW, claims: { jti: randomUUID(), change_sha256: binding.bodySha256, htm: 'POST', htu: binding.path, requester: 'rita', roles: ['release_engineer'] } });

describe('the sidecar an approval token approves a change at', () => {
  it.each([
    { store: 'local', sharedJtis: false },
    { store: 'shared (PostgreSQL)', sharedJtis: true },
  ])('with a $store store, refuses a bare audience, which names no sidecar, and takes one naming this chain', async ({ sharedJtis }) => {
    const verify = verifier({ chainId: 'prod-eu', sharedJtis });
    await expect(verify(await token('flaggate-approval'), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
    await expect(verify(await token('flaggate-approval:prod-us'), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
    await expect(verify(await token('flaggate-approval:prod-eu'), binding)).resolves.toMatchObject({ approval: { approverId: 'sam' } });
    // Two sidecars named at once, each with its own spent jtis: it would be spent once at each.
    await expect(verify(await token(['flaggate-approval:prod-eu', 'flaggate-approval:prod-us']), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
  });

  it('with a shared store, takes a token naming a peer replica in front of the same target, and one naming several replicas', async () => {
    const verify = verifier({ chainId: 'prod-eu-b', sharedJtis: true, peerChains: ['prod-eu-a'] });
    await expect(verify(await token('flaggate-approval:prod-eu-a'), binding)).resolves.toMatchObject({ approval: { approverId: 'sam' } });
    await expect(verify(await token(['flaggate-approval:prod-eu-a', 'flaggate-approval:prod-eu-b']), binding)).resolves.toMatchObject({ approval: { approverId: 'sam' } });
    // A list naming any sidecar outside the peers: that one keeps its own spent jtis, so the token would be spent twice.
    await expect(verify(await token(['flaggate-approval:prod-eu-a', 'flaggate-approval:staging']), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
    await expect(verify(await token('flaggate-approval:prod-us'), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
    // Peers count only where their spent jtis are known here too.
    await expect(verifier({ chainId: 'prod-eu-b', sharedJtis: false, peerChains: ['prod-eu-a'] })(await token('flaggate-approval:prod-eu-a'), binding)).rejects.toMatchObject({ code: 'IDENTIFY_AUDIENCE_MISMATCH' });
  });

  it('production mode refuses approval issuers on a sidecar left at the default chain id, which every such sidecar shares', () => {
    const overrides = { mode: 'production', 'approvals.issuers': [{ issuer: GATE, jwksFile: join(tmp.dir, 'gate.jwks.json') }] };
    expect(() => loadConfig({ env: {}, overrides })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('audit.chainId') }));
    expect(() => loadConfig({ env: { FLAGGATE_CHAIN_ID: 'prod-eu' }, overrides })).not.toThrow(expect.objectContaining({ message: expect.stringContaining('audit.chainId') }));
  });
});
