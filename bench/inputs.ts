/** Representative policy inputs, allowed and denied, shared by the in-process and the REST measurements. */
import type { PolicyInput } from '../src/policy/index.js';

const actor = (id: string, role: string): PolicyInput['actor'] => ({ id, displayName: id, authMethod: 'dev-token', roles: [role] });

function toggle(flagKey: string, environment: string, on: boolean): PolicyInput['change'] {
  const path = `/api/admin/projects/default/features/${flagKey}/environments/${environment}/${on ? 'on' : 'off'}`;
  return {
    platform: 'unleash',
    action: on ? 'flag.enable' : 'flag.disable',
    project: 'default',
    flagKey,
    environment,
    previousState: { exists: true, project: 'default', name: flagKey, type: 'release', environments: { [environment]: { enabled: !on, strategies: [] } } },
    newState: { enabled: on },
    request: { method: 'POST', path, bodySha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
  };
}

const timeUtc = '2025-01-01T12:00:00Z';

/** Each input with its label and the decision it must get. */
export const policyInputs: Array<{ label: string; expectAllow: boolean; input: PolicyInput }> = [
  {
    label: 'release_engineer enables in production with a reason',
    expectAllow: true,
    input: { actor: actor('riley', 'release_engineer'), change: toggle('checkout.v2', 'production', true), approvals: [], context: { reason: 'launch', ticket: 'CHG-1', links: {}, timeUtc } },
  },
  {
    label: 'qa enables in production without a reason',
    expectAllow: false,
    input: { actor: actor('quinn', 'qa'), change: toggle('checkout.v2', 'production', true), approvals: [], context: { links: {}, timeUtc } },
  },
  {
    label: 'flag_admin disables in development',
    expectAllow: true,
    input: { actor: actor('fran', 'flag_admin'), change: toggle('search.v3', 'development', false), approvals: [], context: { links: {}, timeUtc } },
  },
  {
    label: 'critical flag in production without approval',
    expectAllow: false,
    input: { actor: actor('riley', 'release_engineer'), change: toggle('payments.card', 'production', true), approvals: [], context: { reason: 'rollout', links: {}, timeUtc } },
  },
  {
    label: 'critical flag in production with one approval',
    expectAllow: true,
    input: {
      actor: actor('riley', 'release_engineer'),
      change: toggle('payments.card', 'production', true),
      approvals: [{ approverId: 'robin', roles: ['release_engineer'], approvedAt: timeUtc, authMethod: 'oidc' }],
      context: { reason: 'rollout', ticket: 'CHG-2', links: { pr: 'https://git.example/pr/7' }, timeUtc },
    },
  },
  {
    label: 'auditor reads the audit log',
    expectAllow: true,
    input: { actor: actor('ada', 'auditor'), change: { action: 'audit.read' }, approvals: [], context: { links: {}, timeUtc } },
  },
];
