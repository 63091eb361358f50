import { MemoryStorage } from '@openfeature/flagd-core';
import { FlaggateError } from '../../errors.js';
import type { FlagDefinition, FlagFile } from './flag-file.js';
import { evaluatorReadIssues, ruleReadIssues } from './rule-reads.js';

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
 * each targeting rule (a `$ref` resolved against the file's `$evaluators`, every operator known):
 * interpreted, and, once the file has passed flagd's schema (so only its known operators are in
 * it), compiled as the in-process provider compiles it.
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
  const targetingIssues = new Set<string>();
  // flagd-core reports a targeting rule it cannot build as a warning and serves the flag as
  // PARSE_ERROR; the warning is the only signal, so every warning while loading is an issue.
  const logger = { error() {}, info() {}, debug() {}, warn: (message: string) => void targetingIssues.add(String(message)) };
  try {
    new MemoryStorage(logger, { disableDynamicCodeGeneration: true }).setConfigurations(text, true);
  } catch (err) {
    return describeParseError(err);
  }
  if (!targeting) return [];
  // The in-process provider builds rules with the compiler, which also runs every constant part of
  // a rule while building it (`{"%": [1, 0]}`, a string in arithmetic): one that throws there makes
  // the whole flag PARSE_ERROR, though the interpreter would never reach it. The file has passed
  // flagd's schema above, so only its known operators are compiled.
  new MemoryStorage(logger).setConfigurations(text, true);
  return [...targetingIssues].slice(0, maxIssues);
}

/**
 * What flagd-core's checker (the interpreter) accepts but a provider reads otherwise:
 * - a rule object with more than one operator: the interpreter reads its first key, a provider
 *   compiles the rule and serves the flag as PARSE_ERROR;
 * - a `{"$ref": …}` object outside a targeting rule (a variant's value, metadata): flagd-core
 *   resolves `$ref`s by replacing their text across the whole file, so it would be served as an
 *   evaluator's rule;
 * - a `fractional` split whose weights add up past flagd's limit, which serves no split at all;
 * - an evaluator whose text holds `$$`, `$&`, `` $` `` or `$'`: flagd-core reads them as
 *   replacement patterns when it puts the evaluator in place of its `$ref`s (`$$` becomes `$`);
 * - what a rule serves and reads that the provider reads apart (`rule-reads.ts`).
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
    if (Object.hasOwn(value, '$ref')) issues.push(`${at}: holds "$ref" outside a targeting rule, which flagd replaces with an evaluator`);
    for (const [k, v] of Object.entries(value)) refs(v, `${at}/${k}`);
  };
  for (const [key, flag] of Object.entries(file.flags ?? {})) {
    if (typeof flag !== 'object' || flag === null) continue;
    // flagd replaces a `{"$ref": name}` object's text anywhere in the file, not only in rules.
    const { targeting, ...rest } = flag as { targeting?: unknown };
    if (targeting !== undefined) {
      rules(targeting, `/flags/${key}/targeting`);
      fractionalWeights(targeting, `/flags/${key}/targeting`, issues);
      issues.push(...ruleReadIssues(key, flag as { variants?: unknown; targeting?: unknown }, evaluatorsOf(file), `/flags/${key}/targeting`));
    }
    refs(rest, `/flags/${key}`);
  }
  const { flags: _flags, $evaluators: _evaluators, ...fileLevel } = file;
  refs(fileLevel, '');
  const evaluators = file.$evaluators;
  if (typeof evaluators === 'object' && evaluators !== null) {
    for (const [name, rule] of Object.entries(evaluators)) {
      // flagd-core puts an evaluator's text in place of each `{"$ref": name}` with String#replaceAll,
      // which reads `$$`, `$&`, `` $` `` and `$'` in that text as patterns, not as written.
      const pattern = /\$[$&`']/.exec(JSON.stringify(rule) ?? '');
      if (pattern) issues.push(`/$evaluators/${name}: holds "${pattern[0]}", which flagd-core reads as a replacement pattern when it puts the evaluator in place`);
      rules(rule, `/$evaluators/${name}`);
      fractionalWeights(rule, `/$evaluators/${name}`, issues);
      issues.push(...evaluatorReadIssues(rule, `/$evaluators/${name}`));
    }
  }
  return issues;
}

function evaluatorsOf(file: FlagFile): Record<string, unknown> {
  const evaluators = file.$evaluators;
  return typeof evaluators === 'object' && evaluators !== null ? (evaluators as Record<string, unknown>) : {};
}

/** flagd's fractional operator serves nothing (null, the default variant) once its weights add up past this. */
const MAX_FRACTIONAL_WEIGHT = 2_147_483_647;

/**
 * A `fractional` rule whose weights add up past flagd's limit, or to nothing, reads as a split but
 * serves every caller the default variant: refused. So each weight must be written as an integer
 * (flagd would take one computed by a rule, which only a caller's evaluation shows); a bucket
 * without a weight weighs 1, as flagd reads it.
 */
function fractionalWeights(value: unknown, at: string, issues: string[]): void {
  if (Array.isArray(value)) return value.forEach((v, i) => fractionalWeights(v, `${at}/${i}`, issues));
  if (typeof value !== 'object' || value === null) return;
  for (const [op, args] of Object.entries(value)) {
    if (op === 'fractional' && Array.isArray(args)) {
      const buckets = args.filter((bucket): bucket is unknown[] => Array.isArray(bucket));
      const weights = buckets.map((bucket) => (bucket.length === 1 ? 1 : bucket[1]));
      if (weights.some((w) => typeof w !== 'number' || !Number.isInteger(w))) {
        issues.push(`${at}/fractional: a weight is not written as an integer; flagd serves the default variant to everyone when computed weights add up past ${MAX_FRACTIONAL_WEIGHT} or to 0`);
      } else {
        const total = (weights as number[]).reduce((sum, w) => sum + w, 0);
        if (total > MAX_FRACTIONAL_WEIGHT || total <= 0) issues.push(`${at}/fractional: its weights add up to ${total}, ${total > 0 ? `past flagd's ${MAX_FRACTIONAL_WEIGHT}` : 'nothing to split'}, so it would serve the default variant to everyone`);
      }
    }
    fractionalWeights(args, `${at}/${op}`, issues);
  }
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
