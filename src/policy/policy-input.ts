import type { PolicyInput } from './decision.js';

/**
 * The one way a `PolicyInput` is built, for every caller of `decide` (the pipeline, approvals, the
 * control port, the console, backtests): the actor and approvals reduced to the fields the policy
 * is given, and the context stamped with the time the decision is made for.
 */
export function policyInput(o: {
  actor: PolicyInput['actor'];
  change: PolicyInput['change'];
  approvals?: ReadonlyArray<PolicyInput['approvals'][number]>;
  /** What the request says about itself; none for the control port's own actions. */
  context?: Omit<PolicyInput['context'], 'timeUtc'>;
  timeUtc: string;
}): PolicyInput {
  const { actor } = o;
  return {
    actor: { id: actor.id, displayName: actor.displayName, authMethod: actor.authMethod, roles: actor.roles },
    change: o.change,
    approvals: (o.approvals ?? []).map((a) => ({ approverId: a.approverId, roles: a.roles, approvedAt: a.approvedAt, authMethod: a.authMethod })),
    context: { ...(o.context ?? { links: {} }), timeUtc: o.timeUtc },
  };
}
