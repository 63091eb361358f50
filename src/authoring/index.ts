/**
 * Policy authoring: `flaggate policy build` and `flaggate policy test` around the opa CLI. Every CLI
 * command registers these two, so the bundle builder and the case runner (the policy engine, the
 * configuration, YAML) are imported when one of them runs, not with the CLI.
 */
import type { BuildOptions, BuiltBundle } from './build-bundle.js';

export { opaCommand, runOpa } from './opa.js';
export type { BuildOptions, BuiltBundle } from './build-bundle.js';
export type { CasesReport, CaseFailure } from './policy-cases.js';
export { addAuthoringCommands } from './commands.js';

/** Builds, signs and loads a policy bundle (`build-bundle.ts`). */
export async function buildPolicyBundle(o: BuildOptions): Promise<BuiltBundle> {
  return (await import('./build-bundle.js')).buildPolicyBundle(o);
}
