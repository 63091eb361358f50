import { canonicalJson, canonicalMembers, joinCanonical } from './canonical.js';
import { describeValue, isWellFormed, safeText } from './describe-value.js';
import type { NewEntry, Unrecorded } from './entry.js';
import { passesEntrySchema, passesMemberSchema, requiredEntryMembers } from './entry-check.js';
import { newEntrySchema } from './entry-schema.js';
import type { CarriedMember } from './entry-text.js';

export interface EntryLimits {
  /** Nesting of objects and arrays, the entry itself being depth 1. */
  maxDepth: number;
  /** UTF-8 bytes of the entry's canonical JSON. */
  maxBytes: number;
}

/**
 * Deep enough for any flag definition (JsonLogic targeting nests a few levels per rule), far below
 * what recursive serializers survive; big enough for an allowed change's whole body.
 */
export const defaultEntryLimits: EntryLimits = { maxDepth: 100, maxBytes: 8 * 1024 * 1024 };

/** An entry that passed every check: the canonical JSON of each member (`joinCanonical` makes the entry's). */
export interface RecordableEntry {
  ok: true;
  members: Record<string, string>;
}

/** Why an entry cannot be recorded as is, with what the stand-in keeps of it. */
export interface UnrecordableEntry {
  ok: false;
  unrecorded: Unrecorded;
}

/**
 * Checks and canonicalizes an entry before it joins a commit, so that nothing about its content can
 * fail inside the shared transaction. Never throws: what RFC 8785 or the entry schema refuse (a
 * non-finite number, a lone surrogate, too deep, a field longer than the schema allows, something
 * that is not JSON) comes back as a typed failure carrying a digest and an excerpt of the entry.
 */
export function prepareEntry(entry: NewEntry, limits: EntryLimits = defaultEntryLimits, carried?: CarriedMember): RecordableEntry | UnrecordableEntry {
  if (carried !== undefined) {
    const members = prepareCarrying(entry, limits, carried);
    if (members !== undefined) return { ok: true, members };
  }
  // The digest covers the whole entry; the excerpt shows the field at fault, where one is known.
  const refuse = (message: string, field?: PropertyKey): UnrecordableEntry => {
    const whole = describeValue(entry);
    const culprit = typeof field === 'string' && Object.hasOwn(entry, field) ? `${field}: ${describeValue((entry as unknown as Record<string, unknown>)[field]).excerpt}` : whole.excerpt;
    return { ok: false, unrecorded: { error_code: 'AUDIT_ENTRY_UNRECORDABLE', message: safeText(message, 512), ...whole, excerpt: safeText(culprit, 256) } };
  };
  const shape = findNonJson(entry, limits.maxDepth);
  if (shape) return refuse(shape.message, shape.field);
  // The compiled check first: zod's parse copies what it accepts, and is asked only to explain a refusal.
  const valid = passesEntrySchema(entry) ? undefined : newEntrySchema.safeParse(entry);
  if (valid !== undefined && !valid.success) {
    const issues = valid.error.issues.slice(0, 3).map((i) => `${safeText(i.path.join('.'), 64)}: ${safeText(i.message, 120)}`);
    return refuse(`the entry does not match its schema: ${issues.join('; ')}`, valid.error.issues[0]?.path[0]);
  }
  let members: Record<string, string>;
  try {
    members = canonicalMembers(entry as unknown as Record<string, unknown>);
  } catch (err) {
    return refuse(`the entry has no canonical JSON: ${String(err)}`);
  }
  const bytes = joinedBytesOver(members, limits.maxBytes);
  if (bytes !== undefined) return refuse(`the entry is ${bytes} bytes, over the limit of ${limits.maxBytes}`);
  return { ok: true, members };
}

/**
 * An entry built from a committed one (an outcome from its decision): a member it carries unchanged
 * keeps its committed text, checked with that entry; the others are checked as the whole entry's
 * check would check them (the schema is a strict object of independent members) and serialized.
 * Undefined when anything is amiss (a member JSON cannot carry, one the schema refuses or does not
 * know, a required one missing, over the size limit): the full check then names what.
 */
function prepareCarrying(entry: NewEntry, limits: EntryLimits, carried: CarriedMember): Record<string, string> | undefined {
  const members = Object.create(null) as Record<string, string>;
  for (const name of Object.keys(entry)) {
    const value = (entry as unknown as Record<string, unknown>)[name];
    if (value === undefined) return undefined;
    const text = carried(name, value);
    if (text !== undefined) {
      members[name] = text;
    } else {
      // The member is at depth 2 of the entry, as the whole entry's walk counts it.
      if (!isPlainJson(value, 2, limits.maxDepth) || !passesMemberSchema(name, value)) return undefined;
      members[name] = canonicalJson(value);
    }
  }
  if (requiredEntryMembers.some((name) => !Object.hasOwn(members, name))) return undefined;
  return joinedBytesOver(members, limits.maxBytes) === undefined ? members : undefined;
}

/**
 * The UTF-8 length of the members joined when it exceeds `limit`, else undefined. The entry's text is
 * joined only when a bound from the members' lengths could exceed the limit: a UTF-16 unit is at most
 * three UTF-8 bytes, and a name at most six units a character as a JSON string (`\u0000`), plus the
 * quotes, colon and comma around it. The ledger joins the text again with the chain fields.
 */
function joinedBytesOver(members: Readonly<Record<string, string>>, limit: number): number | undefined {
  let units = 2;
  for (const name in members) units += 6 * name.length + 4 + members[name]!.length;
  if (3 * units <= limit) return undefined;
  const bytes = Buffer.byteLength(joinCanonical(members), 'utf8');
  return bytes > limit ? bytes : undefined;
}

/**
 * The first reason `value` is not plain JSON that RFC 8785 can serialize, with the top-level key it
 * was found under, or null. Iterative: a hostile depth must not overflow the stack before it is refused.
 */
export function findNonJson(value: unknown, maxDepth: number): { message: string; field?: string } | null {
  // The walk below builds a path string per node; the common case (plain JSON) is proven without them.
  if (isPlainJson(value, 1, maxDepth)) return null;
  const stack: Array<{ v: unknown; depth: number; path: string; field?: string }> = [{ v: value, depth: 1, path: '$' }];
  while (stack.length > 0) {
    const { v, depth, path, field } = stack.pop()!;
    const found = findIn(v, depth, path, maxDepth, (child, key) => stack.push({ ...child, field: field ?? key }));
    if (found) return { message: found, ...(field === undefined ? {} : { field }) };
  }
  return null;
}

/** Whether `findNonJson` would find nothing. Recursive, but never deeper than `maxDepth` + 1 frames. */
function isPlainJson(v: unknown, depth: number, maxDepth: number): boolean {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'string') return isWellFormed(v);
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v !== 'object' || depth > maxDepth) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!isPlainJson(v[i], depth + 1, maxDepth)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  // for-in over own keys: no [key, value] array per member, on every entry's hot path.
  for (const key in v) {
    if (!Object.hasOwn(v, key)) continue;
    const child = (v as Record<string, unknown>)[key];
    if (!isWellFormed(key) || child === undefined || !isPlainJson(child, depth + 1, maxDepth)) return false;
  }
  return true;
}

function findIn(v: unknown, depth: number, path: string, maxDepth: number, push: (child: { v: unknown; depth: number; path: string }, key: string) => void): string | null {
  if (v === null || typeof v === 'boolean') return null;
  if (typeof v === 'string') return isWellFormed(v) ? null : `a lone surrogate in the string at ${safeText(path, 128)}`;
  if (typeof v === 'number') return Number.isFinite(v) ? null : `a non-finite number (${v}) at ${safeText(path, 128)}`;
  if (typeof v !== 'object') return `a ${typeof v} at ${safeText(path, 128)}, which JSON cannot carry`;
  if (depth > maxDepth) return `nesting deeper than ${maxDepth} at ${safeText(path, 128)}`;
  if (Array.isArray(v)) {
    v.forEach((child, i) => push({ v: child, depth: depth + 1, path: `${path}[${i}]` }, String(i)));
    return null;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) return `an object that is not plain data at ${safeText(path, 128)}`;
  for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
    if (!isWellFormed(key)) return `a lone surrogate in a key at ${safeText(path, 128)}`;
    if (child === undefined) return `undefined at ${safeText(`${path}.${key}`, 128)}`;
    push({ v: child, depth: depth + 1, path: `${path}.${key}` }, key);
  }
  return null;
}
