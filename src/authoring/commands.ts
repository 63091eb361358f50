import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FlaggateError } from '../errors.js';
import { opaCommand, runOpa } from './opa.js';
import type { CasesReport } from './policy-cases.js';

/** The case fixtures of a source checkout, used by `policy test` when present and no --cases is given. */
const defaultCases = 'test/fixtures/policy-cases';

/**
 * `flaggate policy build` and `flaggate policy test`: the security engineer's loop around opa. The
 * bundle builder (the policy engine, the configuration) is imported when one of them runs, not by
 * every command of the CLI.
 */
export function addAuthoringCommands(policy: Command): void {
  policy
    .command('build')
    .description('opa build the policy folders into a WASM bundle, signed with --signing-key, and check that it loads as the sidecar loads it')
    .option('--policies <dir...>', 'policy folders, merged (modules, and data.json at their data path)', ['policies'])
    .option('-o, --out <file>', 'the bundle to write', 'bundles/flaggate.tar.gz')
    .option('--revision <rev>', 'the manifest revision (default: sha256 over the sources)')
    .option('--signing-key <file>', 'a PEM private key: sign the bundle (opa build --signing-key)')
    .option('--signing-alg <alg>', 'the signature algorithm', 'RS256')
    .option('--key-id <id>', 'the keyid claim (default: default, as opa writes it)')
    .option('--opa <path>', 'the opa CLI (default: the pinned one of a checkout, or opa on the PATH)')
    .action(async (opts: { policies: string[]; out: string; revision?: string; signingKey?: string; signingAlg: string; keyId?: string; opa?: string }) => {
      const { buildPolicyBundle } = await import('./build-bundle.js');
      const built = await buildPolicyBundle({
        policies: opts.policies,
        out: opts.out,
        opa: opaCommand(opts.opa),
        signingAlg: opts.signingAlg,
        ...(opts.revision ? { revision: opts.revision } : {}),
        ...(opts.signingKey ? { signingKey: opts.signingKey } : {}),
        ...(opts.keyId ? { keyId: opts.keyId } : {}),
      });
      process.stdout.write(JSON.stringify({ out: built.out, revision: built.revision, sha256: built.sha256, signer: built.signer ?? null }, null, 2) + '\n');
    });

  policy
    .command('test')
    .description('run opa test on the policy folders, then their policy cases (note/input/want YAML) on the compiled WASM bundle; exit 1 on any failure')
    .option('--policies <dir...>', 'policy folders, with their *_test.rego', ['policies'])
    .option('--cases <dir>', `a folder of *.yaml policy cases (default: ${defaultCases} when it exists)`)
    .option('--ignore <pattern...>', 'files opa test leaves out (opa test --ignore), e.g. the default tests an added module changes')
    .option('--opa <path>', 'the opa CLI (default: the pinned one of a checkout, or opa on the PATH)')
    .action(async (opts: { policies: string[]; cases?: string; ignore?: string[]; opa?: string }) => {
      const opa = opaCommand(opts.opa);
      const ignore = (opts.ignore ?? []).flatMap((p) => ['--ignore', p]);
      const unit = await runOpa(opa, ['test', '-v', ...ignore, ...opts.policies.map((p) => resolve(p))]);
      process.stdout.write(unit.stdout);
      process.stderr.write(unit.stderr);
      const cases = opts.cases ?? (existsSync(defaultCases) ? defaultCases : undefined);
      const report = cases ? await runCases(opts.policies, resolve(cases), opa) : undefined;
      if (report) printCases(report);
      process.exitCode = unit.code === 0 && (report?.failed.length ?? 0) === 0 ? 0 : 1;
    });
}

async function runCases(policies: string[], cases: string, opa: string[]): Promise<CasesReport> {
  const [{ buildPolicyBundle }, { runPolicyCases }] = [await import('./build-bundle.js'), await import('./policy-cases.js')];
  const scratch = mkdtempSync(join(tmpdir(), 'flaggate-policy-test-'));
  try {
    const built = await buildPolicyBundle({ policies, out: join(scratch, 'bundle.tar.gz'), opa, revision: 'policy-test' });
    return runPolicyCases(built.engine, cases);
  } catch (err) {
    if (!(err instanceof FlaggateError)) throw err;
    return { passed: 0, failed: [{ file: '(build)', note: err.message, want: {}, got: {} }] };
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function printCases(r: CasesReport): void {
  process.stdout.write(`policy cases: ${r.passed} passed, ${r.failed.length} failed\n`);
  for (const f of r.failed) process.stdout.write(`FAIL ${f.file}: ${f.note}\n  want ${JSON.stringify(f.want)}\n  got  ${JSON.stringify(f.got)}\n`);
}
