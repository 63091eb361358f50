/** Policy authoring: `flaggate policy build` and `flaggate policy test` around the opa CLI. */
export { opaCommand, runOpa } from './opa.js';
export { buildPolicyBundle, type BuildOptions, type BuiltBundle } from './build-bundle.js';
export { runPolicyCases, type CasesReport, type CaseFailure } from './policy-cases.js';
export { addAuthoringCommands } from './commands.js';
