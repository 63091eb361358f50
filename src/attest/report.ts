import type { AuditEntry } from '../audit/index.js';
import { controlsOf, type CheckId, type ControlMapping } from './controls.js';
import { checkApprovals, checkPolicyRevisions, checkPrincipals, viewOf, type CriticalChange, type Period, type RawFinding } from './facts.js';
import { checkBreakGlass, checkDrift, countChanges, experimentChanges, type BreakGlassRecord, type DriftRecord, type ExperimentChanges } from './resolutions.js';

export const ATTESTATION_FORMAT = 'flaggate-attestation/1';

/** What verifying the evidence found (the ledger file's or the export package's own verification). */
export interface AttestVerification {
  ok: boolean;
  /** The verifier's report as it gave it (chain, checkpoints, timestamps, upstream copies). */
  details: Record<string, unknown>;
  failure: { kind: string; seq: number | null; message: string } | null;
}

export interface Finding extends RawFinding {
  /** Stable within a report: the check and the entry's seq. */
  id: string;
  /** "framework id" of every control the check gives evidence for. */
  controls: string[];
}

export interface ControlResult {
  framework: string;
  id: string;
  title: string;
  checks: string[];
  findings: string[];
  result: 'no exceptions' | 'exceptions';
}

export interface AttestationReport {
  format: typeof ATTESTATION_FORMAT;
  generated_at: string;
  period: Period;
  source: { kind: 'ledger' | 'export'; chain_id: string | null; entries_read: number; entries_in_period: number };
  verification: AttestVerification;
  policy_revisions: ReturnType<typeof checkPolicyRevisions>['revisions'];
  counts: ReturnType<typeof countChanges>;
  critical_changes: CriticalChange[];
  drift: DriftRecord[];
  break_glass: BreakGlassRecord[];
  experiments: ExperimentChanges[];
  findings: Finding[];
  controls: ControlResult[];
  summary: { findings: number; high: number; medium: number; low: number; result: 'no exceptions' | 'exceptions' };
  control_mapping: ControlMapping;
}

export interface AttestInput {
  /** Entries in chain order; those outside the period are read for resolutions (acknowledgements, reviews, outcomes). */
  entries: readonly AuditEntry[];
  period: Period;
  source: { kind: 'ledger' | 'export'; chainId: string | null };
  verification: AttestVerification;
  /** The policy's critical-flag patterns (its bundle data); a change the policy said needs approvals counts too. */
  criticalFlags: readonly string[];
  mapping: ControlMapping;
  generatedAt: string;
}

/**
 * The attestation for a period, from entries already read and a verification already made: what
 * each check found, each finding under every control its check maps to. Pure: reads and signs nothing.
 */
export function buildAttestation(input: AttestInput): AttestationReport {
  const view = viewOf(input.entries, input.period);
  const approvals = checkApprovals(view, input.criticalFlags);
  const policy = checkPolicyRevisions(view);
  const drift = checkDrift(view);
  // A review still open at the period's end is judged at the time the report is made.
  const breakGlass = checkBreakGlass(view, input.generatedAt);
  const raw: RawFinding[] = [
    ...(input.verification.ok ? [] : [integrityFinding(input.verification)]),
    ...approvals.findings,
    ...checkPrincipals(view),
    ...policy.findings,
    ...drift.findings,
    ...breakGlass.findings,
  ];
  const findings = raw.map((f, i): Finding => ({ ...f, id: `${f.check}:${f.evidence.seq ?? `n${i}`}`, controls: controlsOf(input.mapping, f.check) }));
  const controls = input.mapping.controls.map((c): ControlResult => {
    const hits = findings.filter((f) => c.checks.includes(f.check)).map((f) => f.id);
    return { framework: c.framework, id: c.id, title: c.title, checks: [...c.checks], findings: hits, result: hits.length > 0 ? 'exceptions' : 'no exceptions' };
  });
  const bySeverity = (s: Finding['severity']) => findings.filter((f) => f.severity === s).length;
  return {
    format: ATTESTATION_FORMAT,
    generated_at: input.generatedAt,
    period: input.period,
    source: { kind: input.source.kind, chain_id: input.source.chainId, entries_read: input.entries.length, entries_in_period: view.inPeriod.length },
    verification: input.verification,
    policy_revisions: policy.revisions,
    counts: countChanges(view),
    critical_changes: approvals.changes,
    drift: drift.drift,
    break_glass: breakGlass.breakGlass,
    experiments: experimentChanges(view, input.period.to),
    findings,
    controls,
    summary: { findings: findings.length, high: bySeverity('high'), medium: bySeverity('medium'), low: bySeverity('low'), result: findings.length > 0 ? 'exceptions' : 'no exceptions' },
    control_mapping: input.mapping,
  };
}

function integrityFinding(v: AttestVerification): RawFinding {
  const check: CheckId = 'evidence_integrity';
  return {
    check,
    severity: 'high',
    title: 'the evidence of the period does not verify',
    detail: v.failure ? `${v.failure.kind}: ${v.failure.message}` : 'verification failed',
    evidence: { seq: v.failure?.seq ?? null, decision_id: null, flag_key: null, environment: null, actor: null },
  };
}
