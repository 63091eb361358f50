import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { z } from 'zod';
import { asFlaggateError } from '../errors.js';
import type { PolicyEngine, PolicyInput } from '../policy/index.js';

/**
 * A case file in the shape of OPA's `v1/test/cases/`: `want` holds the decision keys the case pins
 * down; `hold_for_approvals` and `alerts`, which the sidecar acts on, are compared on every case
 * (false and [] unless listed).
 */
const caseFile = z.strictObject({
  cases: z.array(
    z.strictObject({
      note: z.string().min(1),
      input: z.record(z.string(), z.unknown()),
      want: z.strictObject({
        allow: z.boolean(),
        reasons: z.array(z.string()).optional(),
        required_approvals: z.number().optional(),
        approver_roles: z.array(z.string()).optional(),
        hold_for_approvals: z.boolean().default(false),
        alerts: z.array(z.string()).default([]),
      }),
    }),
  ),
});

export interface CaseFailure {
  file: string;
  note: string;
  want: Record<string, unknown>;
  got: Record<string, unknown>;
}

export interface CasesReport {
  passed: number;
  failed: CaseFailure[];
}

/** Runs every `*.yaml` case file of `dir` on the compiled bundle (WASM), as the sidecar decides. */
export function runPolicyCases(engine: PolicyEngine, dir: string): CasesReport {
  const report: CasesReport = { passed: 0, failed: [] };
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort()) {
    const parsed = caseFile.safeParse(parse(readFileSync(join(dir, file), 'utf8')));
    if (!parsed.success) {
      report.failed.push({ file, note: '(the file)', want: {}, got: { error: z.prettifyError(parsed.error) } });
      continue;
    }
    for (const { note, input, want } of parsed.data.cases) {
      const got = decide(engine, input as unknown as PolicyInput);
      const compared = Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]));
      if (JSON.stringify(compared) === JSON.stringify(want)) report.passed++;
      else report.failed.push({ file, note, want, got });
    }
  }
  return report;
}

function decide(engine: PolicyEngine, input: PolicyInput): Record<string, unknown> {
  try {
    const d = engine.decide(input);
    return { allow: d.allow, reasons: d.reasons, required_approvals: d.requiredApprovals, approver_roles: d.approverRoles, hold_for_approvals: d.holdForApprovals, alerts: d.alerts };
  } catch (err) {
    return { error: asFlaggateError(err).code };
  }
}
