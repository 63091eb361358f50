import { execFileSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPolicyBundle } from '../../src/policy/bundle.js';
import { makeTempDir } from '../support/temp-dir.js';
import { buildTinyBundle, ensureOpa, repoRoot } from './opa-bundle.js';

// Reasons are joined with concat, which fails on a value that is not a string, and a sentence that
// fails is a denial that goes missing. The shipped policies, built to WASM with data whose values
// are not strings where a sentence writes them: each denial must still be there.

/** The parts of data.flaggate.config these cases edit. */
interface ShippedConfig {
  critical_approval: { required_approvals: unknown };
  environment_classes: Record<string, unknown>;
  reason_required_environment_classes: unknown[];
  roles: Record<string, { write_environment_classes: unknown[] }>;
}

/** The shipped policies and data, with `edit` applied to data.flaggate.config, built to WASM. */
async function shippedPolicyWith(edit: (config: ShippedConfig) => void): Promise<LoadedPolicy> {
  const tmp = makeTempDir();
  try {
    const src = join(tmp.dir, 'policies');
    cpSync(join(repoRoot, 'policies'), src, { recursive: true });
    const data = JSON.parse(readFileSync(join(src, 'data.json'), 'utf8')) as { flaggate: { config: ShippedConfig } };
    edit(data.flaggate.config);
    writeFileSync(join(src, 'data.json'), JSON.stringify(data));
    const out = join(tmp.dir, 'bundle.tar.gz');
    execFileSync(process.execPath, [join(repoRoot, 'scripts', 'build-policies.mjs'), '--policies', src, '--bundle', out, '--no-sign'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const bundle = await readPolicyBundle(out);
    const policy = await loadPolicy(bundle.wasm);
    policy.setData(bundle.data);
    return policy;
  } finally {
    tmp.cleanup();
  }
}

function decide(policy: LoadedPolicy, input: unknown): { allow: boolean; reasons: string[] } {
  const [{ result }] = policy.evaluate(input, 'flaggate/authz/decision') as Array<{ result: { allow: boolean; reasons: string[] } }>;
  return result;
}

const write = (flagKey: string, context: Record<string, unknown>) => ({
  actor: { id: 'rita', displayName: 'Rita', authMethod: 'jwt', roles: ['release_engineer'] },
  change: { platform: 'unleash', action: 'flag.enable', flagKey, environment: 'production', request: { method: 'POST', path: '/x', bodySha256: '00' } },
  approvals: [],
  context: { links: {}, timeUtc: '2025-03-03T10:00:00Z', ...context },
});

beforeAll(() => ensureOpa(), 120_000);

describe('reasons built from values that are not strings', () => {
  it('a required approval count written as a string still holds the change for approvals', async () => {
    const policy = await shippedPolicyWith((config) => {
      config.critical_approval.required_approvals = '1';
    });
    const d = decide(policy, write('payments.checkout', { reason: 'launch', ticket: 'CHG-1' }));
    expect(d.allow).toBe(false);
    expect(d.reasons).toEqual(['approval required: payments.checkout in production needs 1 approval(s) by release_engineer other than the requester, 0 present']);
  }, 120_000);

  it('an environment class that is a number still requires its reason', async () => {
    const policy = await shippedPolicyWith((config) => {
      config.environment_classes.production = 7;
      config.reason_required_environment_classes = [7];
      config.roles.release_engineer!.write_environment_classes.push(7);
    });
    const d = decide(policy, write('search.v3', { ticket: 'CHG-1' }));
    expect(d.allow).toBe(false);
    expect(d.reasons).toContain('7 writes require a reason (X-Flaggate-Reason)');
  }, 120_000);
});

describe('text and number_text', () => {
  // Each value of the input, written by the helpers and by sprintf as the reasons were before.
  const probe = `${readFileSync(join(repoRoot, 'policies', 'text.rego'), 'utf8')}
decision := {
  "text": [[text(x), sprintf("%s", [x])] | some x in input.values],
  "numbers": [[number_text(n), sprintf("%d", [n])] | some n in input.numbers],
}
`;
  let policy: LoadedPolicy;
  beforeAll(async () => {
    const tmp = makeTempDir();
    try {
      policy = await loadPolicy((await readPolicyBundle(buildTinyBundle(tmp.dir, { rego: probe, revision: 'text' }))).wasm);
    } finally {
      tmp.cleanup();
    }
  }, 120_000);

  type Written = { text: Array<[unknown, unknown]>; numbers: Array<[unknown, unknown]> };
  const written = (input: { values: unknown[]; numbers: number[] }) =>
    (policy.evaluate(input, 'flaggate/authz/decision') as Array<{ result: Written }>)[0]!.result;

  it('writes every JSON value as sprintf("%s") did, and every number as sprintf("%d") did', () => {
    // Integers around the 32-bit bounds, where the WASM's format_int stops writing them right.
    const edge = fc.integer({ min: -3, max: 3 }).chain((d) => fc.constantFrom(2 ** 31 + d, -(2 ** 31) + d, 2 ** 32 + d));
    const number = fc.oneof(fc.maxSafeInteger(), edge, fc.double({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 8 }), fc.array(number, { maxLength: 6 }), (values, numbers) => {
        // An object naming toString or valueOf makes sprintf throw, before as now: the evaluation fails (closed).
        fc.pre(!/"(toString|valueOf)":/.test(JSON.stringify(values)));
        const out = written({ values, numbers });
        // One row per value: a helper that failed on a value would leave it out, and a denial with it.
        expect([out.text.length, out.numbers.length]).toEqual([values.length, numbers.length]);
        for (const [text, before] of [...out.text, ...out.numbers]) expect(text).toBe(before);
      }),
      { numRuns: 300 },
    );
  });
});
