import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPolicyEngine } from '../../src/policy/index.js';
import type { PolicyInput } from '../../src/policy/index.js';
import { buildTinyBundle, ensureOpa, repoRoot } from './opa-bundle.js';

const committed = join(repoRoot, 'bundles', 'flaggate.tar.gz');

function input(flagKey: string, over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    actor: { id: 'alice', displayName: 'Alice', authMethod: 'jwt', roles: ['release_engineer'] },
    change: {
      platform: 'unleash',
      action: 'flag.enable',
      flagKey,
      environment: 'production',
      request: { method: 'POST', path: '/api/admin/features/x/environments/production/on', bodySha256: '0'.repeat(64) },
    },
    approvals: [],
    context: { reason: 'FF-1 rollout', ticket: 'FF-1', links: {}, timeUtc: '2025-01-08T10:00:00Z' },
    ...over,
  };
}

// One tiny bundle whose answer depends on the flag key, so a single build covers every fail-closed path.
const faultyRego = `package flaggate.authz

ok := {"allow": false, "reasons": ["tiny"], "required_approvals": 0, "approver_roles": [], "hold_for_approvals": false, "alerts": []}
held := object.union(ok, {"required_approvals": 1, "approver_roles": ["release_engineer"], "hold_for_approvals": true})

decision := ok if input.change.flagKey == "flaggate.probe"
decision := object.union(ok, {"allow": true}) if input.change.flagKey == "allowed"
decision := {"allow": true} if input.change.flagKey == "missing-fields"
decision := {"allow": "yes", "reasons": "r", "required_approvals": -1, "approver_roles": [1], "hold_for_approvals": "no", "alerts": "a"} if input.change.flagKey == "wrong-types"
decision := object.remove(ok, ["hold_for_approvals"]) if input.change.flagKey == "no-hold-field"
decision := object.remove(ok, ["alerts"]) if input.change.flagKey == "no-alerts-field"
decision := object.union(ok, {"alerts": [1]}) if input.change.flagKey == "alert-not-text"
decision := object.union(held, {"alerts": ["out of hours"]}) if input.change.flagKey == "held"
decision := object.union(held, {"allow": true}) if input.change.flagKey == "held-and-allowed"
decision := object.union(held, {"required_approvals": 0}) if input.change.flagKey == "held-for-nothing"
decision := object.union(ok, {"allow": true, "reasons": []}) if input.change.flagKey == "no-reasons"
decision := object.union(ok, {"extra": 1}) if input.change.flagKey == "extra-field"
decision := ok if input.change.flagKey == "conflict"
decision := object.union(ok, {"allow": true}) if input.change.flagKey == "conflict"
`;

let dir: string;
let faulty: string;
let undefinedAlways: string;

beforeAll(() => {
  ensureOpa();
  dir = mkdtempSync(join(tmpdir(), 'flaggate-engine-'));
  faulty = buildTinyBundle(join(dir, 'faulty'), { rego: faultyRego, revision: 'tiny-1' });
  undefinedAlways = buildTinyBundle(join(dir, 'undef'), {
    rego: 'package flaggate.authz\n\ndecision := {"allow": true} if input.never\n',
    revision: 'tiny-undef',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createPolicyEngine', () => {
  it('loads the committed bundle and records its revision and sha256 in every decision', async () => {
    const engine = await createPolicyEngine({ bundlePath: committed });
    const sha256 = createHash('sha256').update(readFileSync(committed)).digest('hex');
    expect(engine.revision.sha256).toBe(sha256);
    expect(engine.revision.revision).toMatch(/^sha256:[0-9a-f]{64}$/);

    const d = engine.decide(input('search.v2'));
    expect(d).toEqual({
      allow: true,
      reasons: ['release_engineer may write in production'],
      requiredApprovals: 0,
      approverRoles: [],
      holdForApprovals: false,
      alerts: [],
      breakGlass: false,
      policy: engine.revision,
    });
  });

  it('maps approval requirements from snake_case', async () => {
    const engine = await createPolicyEngine({ bundlePath: committed });
    const d = engine.decide(input('payments.checkout'));
    expect(d.allow).toBe(false);
    expect(d.requiredApprovals).toBe(1);
    expect(d.approverRoles).toEqual(['release_engineer']);
    expect(d.holdForApprovals).toBe(true);
  });

  it('maps the out-of-hours alert of the committed bundle into alerts, and keeps it in the reasons for people', async () => {
    const engine = await createPolicyEngine({ bundlePath: committed });
    const saturday = input('search.v2', { context: { reason: 'r', ticket: 'FF-1', links: {}, timeUtc: '2025-03-01T10:00:00Z' } });
    expect(engine.decide(saturday).alerts).toEqual([]);
    const critical = engine.decide({ ...saturday, change: { ...saturday.change, flagKey: 'payments.checkout' } });
    expect(critical.alerts).toEqual(['out-of-hours change to critical flag payments.checkout in production']);
    expect(critical.reasons).toContain('alert: out-of-hours change to critical flag payments.checkout in production');
  });

  it('rejects with POLICY_BUNDLE_INVALID when the bundle file is missing', async () => {
    await expect(createPolicyEngine({ bundlePath: join(dir, 'absent.tar.gz') })).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
    });
  });

  it('rejects with POLICY_BUNDLE_INVALID when the tarball is corrupt', async () => {
    const bytes = Buffer.from(readFileSync(committed));
    bytes[bytes.length >> 1] ^= 0xff;
    const path = join(dir, 'corrupt.tar.gz');
    writeFileSync(path, bytes);
    await expect(createPolicyEngine({ bundlePath: path })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
  });

  it('rejects with POLICY_BUNDLE_INVALID when the tarball is truncated', async () => {
    const path = join(dir, 'truncated.tar.gz');
    writeFileSync(path, readFileSync(committed).subarray(0, 1000));
    await expect(createPolicyEngine({ bundlePath: path })).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
  });

  it('rejects with POLICY_BUNDLE_INVALID when the decision is never defined', async () => {
    await expect(createPolicyEngine({ bundlePath: undefinedAlways })).rejects.toMatchObject({
      code: 'POLICY_BUNDLE_INVALID',
      cause: { code: 'POLICY_UNDEFINED' },
    });
  });

  it('throws TypeError when bundlePath is empty', async () => {
    await expect(createPolicyEngine({ bundlePath: '' })).rejects.toBeInstanceOf(TypeError);
  });
});

describe('decide', () => {
  it('records the tiny bundle revision in its decisions', async () => {
    const engine = await createPolicyEngine({ bundlePath: faulty });
    const d = engine.decide(input('allowed'));
    expect(d.allow).toBe(true);
    expect(d.policy.revision).toBe('tiny-1');
    expect(d.policy.sha256).toBe(createHash('sha256').update(readFileSync(faulty)).digest('hex'));
  });

  it('maps hold_for_approvals and alerts as the policy returns them', async () => {
    const engine = await createPolicyEngine({ bundlePath: faulty });
    expect(engine.decide(input('held'))).toMatchObject({ allow: false, holdForApprovals: true, alerts: ['out of hours'], reasons: ['tiny'] });
  });

  it.each([
    { name: 'rejects with POLICY_UNDEFINED when no rule defines the decision', flagKey: 'nothing', code: 'POLICY_UNDEFINED' },
    { name: 'rejects with POLICY_RESULT_INVALID when the decision misses fields', flagKey: 'missing-fields', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when fields have wrong types', flagKey: 'wrong-types', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when hold_for_approvals is missing', flagKey: 'no-hold-field', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when alerts is missing', flagKey: 'no-alerts-field', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when an alert is not text', flagKey: 'alert-not-text', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when an allowed change is also held', flagKey: 'held-and-allowed', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when a change is held for no approval', flagKey: 'held-for-nothing', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when an allow carries no reason', flagKey: 'no-reasons', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_RESULT_INVALID when the decision has extra fields', flagKey: 'extra-field', code: 'POLICY_RESULT_INVALID' },
    { name: 'rejects with POLICY_EVAL_FAILED when rules conflict', flagKey: 'conflict', code: 'POLICY_EVAL_FAILED' },
  ])('$name', async ({ flagKey, code }) => {
    const engine = await createPolicyEngine({ bundlePath: faulty });
    let thrown: unknown;
    try {
      engine.decide(input(flagKey));
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code, details: { revision: 'tiny-1' } });
  });
});

describe('reload', () => {
  it('swaps in a new bundle that loads and validates', async () => {
    const path = join(dir, 'live.tar.gz');
    copyFileSync(faulty, path);
    const engine = await createPolicyEngine({ bundlePath: path });
    expect(engine.revision.revision).toBe('tiny-1');
    copyFileSync(committed, path);
    await engine.reload();
    expect(engine.revision.revision).toMatch(/^sha256:/);
    expect(engine.decide(input('search.v2')).allow).toBe(true);
  });

  it('rejects with POLICY_BUNDLE_INVALID and keeps the old bundle when the new one is corrupt', async () => {
    const path = join(dir, 'live2.tar.gz');
    copyFileSync(committed, path);
    const engine = await createPolicyEngine({ bundlePath: path });
    const before = engine.revision;
    writeFileSync(path, 'not a bundle');
    await expect(engine.reload()).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
    expect(engine.revision).toEqual(before);
    expect(engine.decide(input('search.v2')).policy).toEqual(before);
  });

  it('rejects with POLICY_BUNDLE_INVALID and keeps the old bundle when the new decision is undefined', async () => {
    const path = join(dir, 'live3.tar.gz');
    copyFileSync(committed, path);
    const engine = await createPolicyEngine({ bundlePath: path });
    const before = engine.revision;
    copyFileSync(undefinedAlways, path);
    await expect(engine.reload()).rejects.toMatchObject({ code: 'POLICY_BUNDLE_INVALID' });
    expect(engine.revision).toEqual(before);
  });
});
