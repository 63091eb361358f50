/**
 * Request bodies parsed the one way that no later reader can take differently: UTF-8 without a
 * byte-order mark, every number finite, every integer exact in a double, every string well-formed
 * UTF-16 (no lone surrogates), no key twice in one object (nor, where the platform's reader ignores
 * case, two that differ only in case), no `__proto__` key, bounded depth. The value itself comes from JSON.parse, as on the
 * platform; the syntax tree (momoa) only serves to see what JSON.parse hides (duplicate keys).
 */
import { parse as parseTree, type ValueNode } from '@humanwhocodes/momoa';
import { FlaggateError } from '../../errors.js';

/** Deeper bodies are refused: no flag API nests this far, and later stages recurse. */
export const MAX_JSON_DEPTH = 32;

/** Where an object sits in a body: the member names and array indexes that lead to it. */
export type JsonPath = ReadonlyArray<string | number>;

export interface StrictJsonOptions {
  /**
   * The objects whose keys a platform's reader matches regardless of case (Go's encoding/json
   * decoding into struct fields, Jackson or .NET set to): two keys there that differ only in case
   * are refused. Maps with keys of the user's choosing (variants, environments, custom fields) are
   * matched exactly by every reader, and are left out.
   */
  caseInsensitiveAt?: (path: JsonPath) => boolean;
  /**
   * The field names the platform's structs declare (`fieldNames`): where `caseInsensitiveAt` holds,
   * a key that differs from one of them only in case is read as that field, though the entry shows
   * another key, and is refused.
   */
  fields?: FieldNames;
  /**
   * Members whose numbers a platform types by how they are written (Python's json: `100` an int,
   * `100.0` or `1e2` a float, stored as another type): each number there must be an integer literal.
   */
  integerLiteralsUnder?: ReadonlySet<string>;
}

/** Parses `body` strictly; throws ADAPT_BODY_MALFORMED naming the first problem found. */
export function parseStrictJson(body: Buffer, options: StrictJsonOptions = {}): unknown {
  if (body.length >= 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf) throw malformed('the body starts with a byte-order mark');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(body);
  } catch (cause) {
    throw malformed('the body is not valid UTF-8', cause);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw malformed(`the body is not JSON: ${(cause as Error).message}`, cause);
  }
  let tree: ValueNode;
  try {
    tree = parseTree(text, { mode: 'json' }).body;
  } catch (cause) {
    throw malformed(`the body is not JSON: ${(cause as Error).message}`, cause);
  }
  check(tree, 0, text, [], options);
  return value;
}

function check(node: ValueNode, depth: number, text: string, path: JsonPath, options: StrictJsonOptions, member?: string): void {
  const foldsAt = options.caseInsensitiveAt;
  if (depth > MAX_JSON_DEPTH) throw malformed(`the body nests deeper than ${MAX_JSON_DEPTH}`);
  switch (node.type) {
    case 'Number':
      if (!Number.isFinite(node.value)) throw malformed('a number in the body is not finite');
      // An integer past 2^53 reads rounded here and in any JavaScript platform, exactly in a Python
      // or Go one (an id, a user number): the entry would show another value than such a platform applies.
      // Written with a fraction or an exponent it is a float to those readers too (a reader that keeps
      // floats as decimals, such as Jackson's BigDecimal mode, is not one a flag platform uses here).
      if (!Number.isSafeInteger(node.value) && Math.abs(node.value) >= 2 ** 53 && isIntegerLiteral(text.slice(node.loc.start.offset, node.loc.end.offset))) {
        throw malformed('an integer in the body is beyond 2^53, where readers round it differently');
      }
      if (member !== undefined && options.integerLiteralsUnder?.has(member) && !isIntegerLiteral(text.slice(node.loc.start.offset, node.loc.end.offset))) {
        throw malformed(`${member} must be written as an integer (no fraction, no exponent): the platform stores another type otherwise`);
      }
      return;
    case 'String':
      if (hasLoneSurrogate(node.value)) throw malformed('a string in the body holds a lone surrogate');
      return;
    case 'Array':
      node.elements.forEach((e, i) => check(e.value, depth + 1, text, foldsAt ? [...path, i] : path, options));
      return;
    case 'Object': {
      const folds = foldsAt?.(path) === true;
      const seen = new Map<string, string>();
      for (const m of node.members) {
        const name = m.name.type === 'String' ? m.name.value : m.name.name;
        if (hasLoneSurrogate(name)) throw malformed('a key in the body holds a lone surrogate');
        const key = folds ? caseFolded(name) : name;
        const twin = seen.get(key);
        if (twin === name) throw malformed(`the key "${name.slice(0, 64)}" appears twice in one object`);
        if (twin !== undefined) {
          throw malformed(`the keys "${twin.slice(0, 64)}" and "${name.slice(0, 64)}" differ only in case in one object: the platform's reader matches keys regardless of case and takes one for the other`);
        }
        if (folds) refuseFieldVariant(name, options.fields);
        // JSON.parse keeps it as a member; an assignment or a copy elsewhere takes it as the prototype and drops it.
        if (name === '__proto__') throw malformed('the key "__proto__" is read as a member by some readers and dropped by others');
        seen.set(key, name);
        check(m.value, depth + 1, text, foldsAt ? [...path, name] : path, options, name);
      }
      return;
    }
    default:
      return;
  }
}

/**
 * The same refusal of case twins over a value already parsed, placed at `at` in the document a
 * platform reads (a JSON Patch operation's value, placed where its path points): every object whose
 * place `caseInsensitiveAt` names as a struct. Throws ADAPT_BODY_MALFORMED.
 */
export function refuseCaseTwins(value: unknown, options: Required<Pick<StrictJsonOptions, 'caseInsensitiveAt'>> & Pick<StrictJsonOptions, 'fields'>, at: JsonPath = []): void {
  if (Array.isArray(value)) return value.forEach((v, i) => refuseCaseTwins(v, options, [...at, i]));
  if (typeof value !== 'object' || value === null) return;
  const folds = options.caseInsensitiveAt(at);
  const seen = new Map<string, string>();
  for (const [name, member] of Object.entries(value)) {
    const twin = folds ? seen.get(caseFolded(name)) : undefined;
    if (twin !== undefined) {
      throw malformed(`the keys "${twin.slice(0, 64)}" and "${name.slice(0, 64)}" differ only in case in one object: the platform's reader matches keys regardless of case and takes one for the other`);
    }
    if (folds) {
      seen.set(caseFolded(name), name);
      refuseFieldVariant(name, options.fields);
    }
    refuseCaseTwins(member, options, [...at, name]);
  }
}

/** A platform's declared field names, for telling which field a key in another case is read as. */
export interface FieldNames {
  /** The field `key` is read as when it is not itself a declared name but differs from one only in case; else undefined. */
  readAs(key: string): string | undefined;
}

export function fieldNames(names: Iterable<string>): FieldNames {
  const declared = new Set(names);
  const byFold = new Map<string, string>();
  for (const name of declared) if (!byFold.has(caseFolded(name))) byFold.set(caseFolded(name), name);
  return { readAs: (key) => (declared.has(key) ? undefined : byFold.get(caseFolded(key))) };
}

/** Throws ADAPT_BODY_MALFORMED when `key` is read as a declared field of another spelling. */
function refuseFieldVariant(key: string, fields: FieldNames | undefined): void {
  const field = fields?.readAs(key);
  if (field !== undefined) {
    throw malformed(`the key "${key.slice(0, 64)}" differs from the field "${field}" only in case: the platform's reader matches keys regardless of case and takes it for that field`);
  }
}

/**
 * A key as a case-insensitive reader matches it. Upper case first, then lower, so that the
 * characters Go's case folding joins to ASCII letters (the Kelvin sign, the long s) fold with
 * them; a fold wider than Go's (ß with ss) only refuses more.
 */
function caseFolded(name: string): string {
  return name.toUpperCase().toLowerCase();
}

/** Written as an integer: no fraction, no exponent. */
function isIntegerLiteral(literal: string): boolean {
  return /^-?[0-9]+$/.test(literal);
}

// With the u flag a surrogate pair is one code point, so only an unpaired half matches.
function hasLoneSurrogate(s: string): boolean {
  return /\p{Cs}/u.test(s);
}

function malformed(message: string, cause?: unknown): FlaggateError {
  return new FlaggateError('ADAPT_BODY_MALFORMED', message, cause === undefined ? undefined : { cause });
}
