import { asFlaggateError } from '../errors.js';
import { compareDecisions, type DisagreementKind } from './compare-decisions.js';
import type { Decision, PolicyInput, PolicyRevision } from './decision.js';
import type { PolicyEngine } from './engine.js';

/** A shadow decision that differs from the active one; `shadow_error` when the shadow could not decide. */
export interface ShadowDisagreement {
  kind: DisagreementKind | 'shadow_error';
  at: string;
  actor: string;
  action: string;
  environment: string | null;
  flagKey: string | null;
  active: { allow: boolean; requiredApprovals: number; approverRoles: string[]; policy: PolicyRevision };
  shadow: { allow: boolean; requiredApprovals: number; approverRoles: string[]; reasons: string[]; policy: PolicyRevision } | { errorCode: string; policy: PolicyRevision };
}

/** What `/v1/policy/shadow` shows: the totals since start and the latest disagreements. */
export interface ShadowReport {
  active: PolicyRevision;
  shadow: PolicyRevision;
  decisions: number;
  disagreements: Record<ShadowDisagreement['kind'], number>;
  /** The newest last, at most `keep`. */
  recent: ShadowDisagreement[];
}

export interface ShadowOptions {
  /** Called on every disagreement (the metric counts it by kind). */
  onDisagreement?(d: ShadowDisagreement): void;
  /** How many recent disagreements the report keeps (default 100). */
  keep?: number;
}

function about(input: PolicyInput): Pick<ShadowDisagreement, 'actor' | 'action' | 'environment' | 'flagKey'> {
  const c = input.change as { action: string; environment?: string; flagKey?: string };
  return { actor: input.actor.id, action: c.action, environment: c.environment ?? null, flagKey: c.flagKey ?? null };
}

/**
 * Shadow evaluation: every input the active engine decides is also decided by `shadow`; only the
 * active decision is returned, thrown or acted on. The shadow can neither change nor delay a
 * result beyond its own evaluation, and its failures are counted, never raised. Reload reloads
 * both; a shadow that fails to reload keeps its running bundle and does not fail the active one.
 */
export function withShadowPolicy(active: PolicyEngine, shadow: PolicyEngine, o: ShadowOptions = {}): PolicyEngine & { shadowReport(): ShadowReport } {
  const keep = o.keep ?? 100;
  let decisions = 0;
  const counts: ShadowReport['disagreements'] = { newly_denied: 0, newly_allowed: 0, approvals_changed: 0, shadow_error: 0 };
  const recent: ShadowDisagreement[] = [];

  const record = (d: ShadowDisagreement) => {
    counts[d.kind]++;
    recent.push(d);
    if (recent.length > keep) recent.shift();
    o.onDisagreement?.(d);
  };

  const compare = (input: PolicyInput, a: Decision) => {
    decisions++;
    const activeFacts = { allow: a.allow, requiredApprovals: a.requiredApprovals, approverRoles: a.approverRoles, policy: a.policy };
    const at = input.context.timeUtc;
    let s: Decision;
    try {
      s = shadow.decide(input);
    } catch (err) {
      record({ kind: 'shadow_error', at, ...about(input), active: activeFacts, shadow: { errorCode: asFlaggateError(err).code, policy: shadow.revision } });
      return;
    }
    const kind = compareDecisions(a, s);
    if (kind) {
      record({ kind, at, ...about(input), active: activeFacts, shadow: { allow: s.allow, requiredApprovals: s.requiredApprovals, approverRoles: s.approverRoles, reasons: s.reasons, policy: s.policy } });
    }
  };

  return {
    decide(input) {
      const decision = active.decide(input);
      compare(input, decision);
      return decision;
    },
    get revision() {
      return active.revision;
    },
    get signer() {
      return active.signer;
    },
    async reload() {
      await shadow.reload().catch(() => undefined);
      await active.reload();
    },
    async activate(bytes, beforeSwap) {
      // The shadow keeps its own source (a candidate file): it is read again, as on a reload.
      await shadow.reload().catch(() => undefined);
      return active.activate(bytes, beforeSwap);
    },
    shadowReport: () => ({ active: active.revision, shadow: shadow.revision, decisions, disagreements: { ...counts }, recent: [...recent] }),
  };
}
