import { MemoryStorage } from '@openfeature/flagd-core';
import { FlaggateError } from '../../errors.js';
import type { FlagDefinition, FlagFile } from './flag-file.js';

/**
 * Whether flagd would load a flag file, judged by flagd's own code: `@openfeature/flagd-core`, the
 * evaluator OpenFeature's flagd providers run, validating strictly against flagd's published schema
 * (flags.json and targeting.json, precompiled in the package: nothing is fetched) and then building
 * each flag's targeting rule. A file that fails either is one a provider refuses or serves with
 * PARSE_ERROR, so flaggate does not write it.
 */

const maxIssues = 8;

/**
 * Throws ADAPT_FLAGD_INVALID when the whole file would not load in flagd. `targeting` also builds
 * each targeting rule (a `$ref` resolved against the file's `$evaluators`, every operator known);
 * rules are interpreted, never compiled to code, since they come from requests.
 */
export function assertFlagdLoads(file: FlagFile, options: { targeting: boolean; what?: string }): void {
  const issues = [...flagdIssues(JSON.stringify(file), options.targeting), ...readApart(file)].slice(0, maxIssues);
  if (issues.length > 0) {
    const what = options.what ?? 'the flag file this change produces';
    throw new FlaggateError('ADAPT_FLAGD_INVALID', `flagd would not load ${what}: ${issues.join('; ')}`, { details: { issues } });
  }
}

/**
 * The schema check of one definition on its own, as a file holding only it: cheap enough for
 * classification, and sound there, because the schema accepts a `$ref` whose target only the
 * whole file can show (the forwarder checks that before writing).
 */
export function assertFlagdDefinition(flagKey: string, definition: FlagDefinition): void {
  assertFlagdLoads({ flags: { [flagKey]: definition } }, { targeting: false, what: 'this flag definition' });
}

function flagdIssues(text: string, targeting: boolean): string[] {
  const targetingIssues: string[] = [];
  // flagd-core reports a targeting rule it cannot build as a warning and serves the flag as
  // PARSE_ERROR; the warning is the only signal, so every warning while loading is an issue.
  const logger = { error() {}, info() {}, debug() {}, warn: (message: string) => void targetingIssues.push(String(message)) };
  try {
    new MemoryStorage(logger, { disableDynamicCodeGeneration: true }).setConfigurations(text, true);
  } catch (err) {
    return describeParseError(err);
  }
  return targeting ? targetingIssues.slice(0, maxIssues) : [];
}

/**
 * What flagd-core's checker (the interpreter) accepts but a provider reads otherwise:
 * - a rule object with more than one operator: the interpreter reads its first key, a provider
 *   compiles the rule and serves the flag as PARSE_ERROR;
 * - a `{"$ref": …}` object inside a variant's value: flagd-core resolves `$ref`s by replacing their
 *   text across the whole file, so the variant would be served as an evaluator's rule.
 */
function readApart(file: FlagFile): string[] {
  const issues: string[] = [];
  const rules = (value: unknown, at: string): void => {
    if (Array.isArray(value)) return value.forEach((v, i) => rules(v, `${at}/${i}`));
    if (typeof value !== 'object' || value === null) return;
    const keys = Object.keys(value);
    if (keys.length > 1) issues.push(`${at}: a rule object holds ${keys.length} operators (${keys.slice(0, 3).join(', ')}); flagd builds one per object`);
    for (const k of keys) rules((value as Record<string, unknown>)[k], `${at}/${k}`);
  };
  const refs = (value: unknown, at: string): void => {
    if (Array.isArray(value)) return value.forEach((v, i) => refs(v, `${at}/${i}`));
    if (typeof value !== 'object' || value === null) return;
    if (Object.hasOwn(value, '$ref')) issues.push(`${at}: a variant value holds "$ref", which flagd replaces with an evaluator`);
    for (const [k, v] of Object.entries(value)) refs(v, `${at}/${k}`);
  };
  for (const [key, flag] of Object.entries(file.flags ?? {})) {
    if (typeof flag !== 'object' || flag === null) continue;
    const { targeting, variants } = flag as { targeting?: unknown; variants?: Record<string, unknown> };
    if (targeting !== undefined) rules(targeting, `/flags/${key}/targeting`);
    for (const [name, v] of Object.entries(variants ?? {})) refs(v, `/flags/${key}/variants/${name}`);
  }
  const evaluators = file.$evaluators;
  if (typeof evaluators === 'object' && evaluators !== null) for (const [name, rule] of Object.entries(evaluators)) rules(rule, `/$evaluators/${name}`);
  return issues;
}

/** flagd-core's ParseError message is `invalid flagd flag configuration: <ajv errors as JSON>`. */
function describeParseError(err: unknown): string[] {
  const message = err instanceof Error ? err.message : String(err);
  const start = message.indexOf('[');
  if (start >= 0) {
    try {
      const errors = JSON.parse(message.slice(start)) as Array<{ instancePath?: string; message?: string; params?: Record<string, unknown> }>;
      const lines = errors.map((e) => `${e.instancePath || '/'}: ${e.message ?? 'invalid'}${describeParams(e.params)}`);
      return [...new Set(lines)].slice(0, maxIssues);
    } catch {
      // not the documented shape: fall through to the message itself
    }
  }
  return [message.slice(0, 300)];
}

function describeParams(params: Record<string, unknown> | undefined): string {
  if (params && typeof params.additionalProperty === 'string') return ` (${params.additionalProperty})`;
  return '';
}
