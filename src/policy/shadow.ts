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

/** Why shadow evaluation stands still: the candidate served was refused (or none came yet), with the refusal's code. */
export interface ShadowPause {
  code: string;
  since: string;
}

/** What `/v1/policy/shadow` shows: the totals since start and the latest disagreements. */
export interface ShadowReport {
  active: PolicyRevision;
  /** The candidate deciding beside the active bundle; null while paused before any candidate loaded. */
  shadow: PolicyRevision | null;
  /** Set while shadow evaluation is paused; decisions are then not compared (nor counted). */
  paused: ShadowPause | null;
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
  /**
   * Looks for a new candidate on a reload (SIGHUP, a swap of the active bundle): by default the
   * shadow engine reads its file again; a candidate from a bundle service polls it instead.
   */
  refreshShadow?(): Promise<void>;
}

/** The shadow's controls for a candidate that arrives over a bundle service. */
export interface ShadowControls {
  /** Puts a verified candidate in place and resumes shadow evaluation. */
  swapShadow(engine: PolicyEngine): void;
  /** Stops comparing until the next candidate is swapped in; the active decision is untouched. */
  pauseShadow(code: string, at?: Date): void;
  shadowReport(): ShadowReport;
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
export function withShadowPolicy(active: PolicyEngine, first: PolicyEngine | ShadowPause, o: ShadowOptions = {}): PolicyEngine & ShadowControls {
  const keep = o.keep ?? 100;
  let shadow: PolicyEngine | undefined = 'decide' in first ? first : undefined;
  let paused: ShadowPause | null = 'decide' in first ? null : first;
  let decisions = 0;
  const counts: ShadowReport['disagreements'] = { newly_denied: 0, newly_allowed: 0, approvals_changed: 0, shadow_error: 0 };
  const recent: ShadowDisagreement[] = [];

  const record = (d: ShadowDisagreement) => {
    counts[d.kind]++;
    recent.push(d);
    if (recent.length > keep) recent.shift();
    o.onDisagreement?.(d);
  };

  const compare = (input: PolicyInput, a: Decision, shadow: PolicyEngine) => {
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

  const refresh = async () => {
    await (o.refreshShadow ? o.refreshShadow() : shadow?.reload())?.catch(() => undefined);
  };

  return {
    decide(input) {
      const decision = active.decide(input);
      if (shadow && !paused) compare(input, decision, shadow);
      return decision;
    },
    get revision() {
      return active.revision;
    },
    get signer() {
      return active.signer;
    },
    async reload() {
      await refresh();
      await active.reload();
    },
    async activate(bytes, beforeSwap) {
      // The shadow keeps its own source (a candidate file or URL): it is looked at again, as on a reload.
      await refresh();
      return active.activate(bytes, beforeSwap);
    },
    swapShadow(engine) {
      shadow = engine;
      paused = null;
    },
    pauseShadow(code, at = new Date()) {
      if (paused?.code !== code) paused = { code, since: at.toISOString() };
    },
    shadowReport: () => ({ active: active.revision, shadow: shadow?.revision ?? null, paused, decisions, disagreements: { ...counts }, recent: [...recent] }),
  };
}
