/**
 * What a targeting rule reads and serves, where the in-process provider (flagd-core, with
 * json-logic-engine) reads it apart from what the rule says:
 * - a constant the rule serves (an `if` branch, a `fractional` bucket's name, a value on its own)
 *   that names no variant of the flag: flagd-core serves the variant named by the result's text
 *   (`true` as "true"), and answers ERROR to every caller it reaches when there is none;
 * - a `var` path through JavaScript's own properties (`constructor.name`, `__proto__`, a string's
 *   `length`): json-logic-engine walks them as if the context held them, so a rule meant for
 *   callers with such an attribute matches every caller (flagd's Go reader looks the path up in the
 *   context alone, by its rule library's code).
 */

type Rule = unknown;

/** Issues with the flag's rule, `at` its JSON Pointer; evaluators resolve `$ref`s in served positions. */
export function ruleReadIssues(flagKey: string, flag: { variants?: unknown; targeting?: unknown }, evaluators: Record<string, unknown>, at: string): string[] {
  const issues: string[] = [];
  const variants = typeof flag.variants === 'object' && flag.variants !== null ? Object.keys(flag.variants) : [];
  for (const served of servedConstants(flag.targeting, evaluators, new Set())) {
    if (served === null) continue;
    const name = String(served);
    if (!variants.includes(name)) issues.push(`${at}: serves ${JSON.stringify(served)}, which names no variant of flag ${JSON.stringify(flagKey)}; the provider would answer an error to every caller it reaches`);
  }
  issues.push(...builtinPaths(flag.targeting, at));
  return issues;
}

/** Issues with an evaluator of `$evaluators`: the paths it reads (what it serves is checked where a flag uses it). */
export function evaluatorReadIssues(rule: Rule, at: string): string[] {
  return builtinPaths(rule, at);
}

/** The constants a rule can serve: its own value, each `if` branch's, each `fractional` bucket's name; computed results are left out. */
function servedConstants(rule: Rule, evaluators: Record<string, unknown>, seen: Set<string>): unknown[] {
  if (rule === undefined || rule === null) return [];
  if (typeof rule === 'string' || typeof rule === 'number' || typeof rule === 'boolean') return [rule];
  if (typeof rule !== 'object' || Array.isArray(rule)) return [];
  const entries = Object.entries(rule);
  if (entries.length !== 1) return [];
  const [op, args] = entries[0]!;
  if (op === '$ref' && typeof args === 'string' && !seen.has(args) && Object.hasOwn(evaluators, args)) {
    return servedConstants(evaluators[args], evaluators, new Set([...seen, args]));
  }
  if (op === 'if' && Array.isArray(args)) {
    // [condition, then, condition, then, …, else]: the odd places, and the last of an odd count.
    const results = args.filter((_, i) => i % 2 === 1 || (args.length > 1 && args.length % 2 === 1 && i === args.length - 1));
    return results.flatMap((r) => servedConstants(r, evaluators, seen));
  }
  if (op === 'fractional' && Array.isArray(args)) {
    return args.filter((bucket): bucket is unknown[] => Array.isArray(bucket)).flatMap((bucket) => servedConstants(bucket[0], evaluators, seen));
  }
  return [];
}

/** Names JavaScript gives values of its own, which json-logic-engine's `var` walks into. */
const BUILTIN = new Set(['__proto__', 'constructor', 'prototype']);

/** `var` (and `missing`, `missing_some`) paths through JavaScript's own properties. */
function builtinPaths(rule: Rule, at: string): string[] {
  const issues: string[] = [];
  const walk = (value: unknown, where: string): void => {
    if (Array.isArray(value)) return value.forEach((v, i) => walk(v, `${where}/${i}`));
    if (typeof value !== 'object' || value === null) return;
    for (const [op, args] of Object.entries(value)) {
      for (const path of readPaths(op, args)) {
        const segments = path.split('.');
        // `length` of the context itself is the caller's attribute; past it, a string's or a list's.
        const builtin = segments.find((s, i) => BUILTIN.has(s) || (s === 'length' && i > 0));
        if (builtin !== undefined) issues.push(`${where}/${op}: reads ${JSON.stringify(path)}, and the provider finds "${builtin}" on JavaScript values whatever the caller sends`);
      }
      walk(args, `${where}/${op}`);
    }
  };
  walk(rule, at);
  return issues;
}

function readPaths(op: string, args: unknown): string[] {
  const list = Array.isArray(args) ? args : [args];
  if (op === 'var') return typeof list[0] === 'string' ? [list[0]] : [];
  if (op === 'missing') return list.filter((p): p is string => typeof p === 'string');
  if (op === 'missing_some' && Array.isArray(list[1])) return list[1].filter((p): p is string => typeof p === 'string');
  return [];
}
