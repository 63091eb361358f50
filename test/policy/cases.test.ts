import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createPolicyEngine } from '../../src/policy/index.js';
import type { PolicyEngine, PolicyInput } from '../../src/policy/index.js';
import { repoRoot } from './opa-bundle.js';

const casesDir = join(repoRoot, 'test', 'fixtures', 'policy-cases');

// OPA's case shape: `want` holds the Rego decision's keys that the case pins down. The two fields the
// sidecar acts on are compared on every case: false and [] unless `want` lists them.
const caseFile = z.strictObject({
  cases: z.array(
    z.strictObject({
      note: z.string().min(1),
      input: z.record(z.string(), z.unknown()),
      want: z
        .strictObject({
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

const cases = readdirSync(casesDir)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .flatMap((f) => caseFile.parse(parse(readFileSync(join(casesDir, f), 'utf8'))).cases);

let engine: PolicyEngine;
beforeAll(async () => {
  engine = await createPolicyEngine({ bundlePath: join(repoRoot, 'bundles', 'flaggate.tar.gz') });
});

describe('decide on policy cases', () => {
  it('has at least 15 cases with distinct notes', () => {
    expect(cases.length).toBeGreaterThanOrEqual(15);
    expect(new Set(cases.map((c) => c.note)).size).toBe(cases.length);
  });

  it.each(cases)('$note', ({ input, want }) => {
    const d = engine.decide(input as unknown as PolicyInput);
    const got: Record<string, unknown> = {
      allow: d.allow,
      reasons: d.reasons,
      required_approvals: d.requiredApprovals,
      approver_roles: d.approverRoles,
      hold_for_approvals: d.holdForApprovals,
      alerts: d.alerts,
    };
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, got[k]]))).toEqual(want);
  });
});
