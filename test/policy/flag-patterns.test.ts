import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadPolicy, type LoadedPolicy } from '@open-policy-agent/opa-wasm';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPolicyBundle } from '../../src/policy/bundle.js';
import { makeTempDir } from '../support/temp-dir.js';
import { buildTinyBundle, ensureOpa, repoRoot } from './opa-bundle.js';

// flag_pattern_matches hands glob.match only names that start with the pattern's literal prefix.
// Held here against glob.match itself, in the WASM flaggate runs, over patterns and names drawn
// from glob's special characters, letters in both cases, a non-ASCII letter and the delimiter.
const helpers = readFileSync(join(repoRoot, 'policies', 'flag_patterns.rego'), 'utf8');
const probe = `${helpers}
decision := [[p, n, as_flag_pattern(p, n), as_glob(p, n)] | some p in input.patterns; some n in input.names]

as_flag_pattern(p, n) := true if flag_pattern_matches(p, n) else := false

as_glob(p, n) := true if glob.match(lower(p), null, lower(n)) else := false
`;

let policy: LoadedPolicy;
beforeAll(async () => {
  ensureOpa();
  const tmp = makeTempDir();
  const bundle = await readPolicyBundle(buildTinyBundle(tmp.dir, { rego: probe, revision: 'flag-patterns' }));
  policy = await loadPolicy(bundle.wasm);
  tmp.cleanup();
}, 120_000);

function verdicts(patterns: string[], names: string[]): Array<[string, string, boolean, boolean]> {
  const [{ result }] = policy.evaluate({ patterns, names }, 'flaggate/authz/decision') as Array<{ result: Array<[string, string, boolean, boolean]> }>;
  return result;
}

describe('flag_pattern_matches', () => {
  it('matches exactly where glob.match does', () => {
    const pattern = fc.array(fc.constantFrom('a', 'b', 'A', 'é', '.', '*', '**', '?', '[', ']', '[!a]', '[a-b]', '{', '}', '{a,b}', ',', '!', '-', '\\'), { maxLength: 6 }).map((p) => p.join(''));
    const name = fc.array(fc.constantFrom('a', 'b', 'B', 'É', '.', '*', '-', ',', '{'), { maxLength: 6 }).map((n) => n.join(''));
    let matched = 0;
    fc.assert(
      fc.property(fc.uniqueArray(pattern, { minLength: 1, maxLength: 20 }), fc.uniqueArray(name, { minLength: 1, maxLength: 20 }), (patterns, names) => {
        for (const [p, n, fast, glob] of verdicts(patterns, names)) {
          expect(fast, `${JSON.stringify(p)} against ${JSON.stringify(n)}`).toBe(glob);
          if (glob) matched += 1;
        }
      }),
      { numRuns: 200 },
    );
    // Both answers occur, or the comparison says little.
    expect(matched).toBeGreaterThan(100);
    const matches = (p: string, n: string) => verdicts([p], [n])[0]![2];
    expect([matches('payments.*', 'PAYMENTS.checkout'), matches('payments.*', 'bench.f1'), matches('x\\*y', 'x*y'), matches('x\\*y', 'xay')]).toEqual([true, false, true, false]);
  });
});
