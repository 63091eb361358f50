import canonicalizeModule from 'canonicalize';

type Serialize = (input: unknown) => string | undefined;
// The package is CommonJS with an ESM-style typing: at run time the default import is the function.
const canonicalize = canonicalizeModule as unknown as Serialize;

/**
 * RFC 8785 (JCS) canonical JSON. Throws TypeError for values JSON cannot carry (undefined at the
 * top, functions, non-finite numbers), which would otherwise hash as something other than stored.
 */
export function canonicalJson(value: unknown): string {
  const plain = plainCanonical(value);
  if (plain !== undefined) return plain;
  // The walk that names the offending path builds a string per node: run it only to explain a failure.
  if (!isJsonSafe(value)) assertJsonSafe(value, '$');
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value has no JSON form');
  return text;
}

/**
 * The canonical JSON of plain data (objects whose prototype is Object's or none, arrays, strings,
 * finite numbers, booleans, null) in one walk; undefined at anything else (a `toJSON`, a class
 * instance, a value JSON cannot carry), which the package then serializes or refuses as before. It
 * writes what the package writes (a property test holds the two equal), without its garbage: the
 * package sorts each object's keys with Array#sort, whose work arrays were a tenth of the garbage
 * of a change, and builds each object's text through a reduce callback.
 */
function plainCanonical(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value);
    case 'number':
      return Number.isFinite(value) ? JSON.stringify(value) : undefined;
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      if (value === null) return 'null';
      return Array.isArray(value) ? plainArray(value) : plainObject(value);
    default:
      return undefined;
  }
}

function plainArray(items: unknown[]): string | undefined {
  // A subclass may bring a toJSON the package would call.
  if (Object.getPrototypeOf(items) !== Array.prototype) return undefined;
  let text = '[';
  for (let i = 0; i < items.length; i++) {
    const item = plainCanonical(items[i]);
    if (item === undefined) return undefined;
    text += i === 0 ? item : `,${item}`;
  }
  return `${text}]`;
}

function plainObject(object: object): string | undefined {
  const proto = Object.getPrototypeOf(object) as unknown;
  if (proto !== Object.prototype && proto !== null) return undefined;
  const names = sortNames(Object.keys(object));
  let text = '{';
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    const member = plainCanonical((object as Record<string, unknown>)[name]);
    if (member === undefined) return undefined;
    text += (i === 0 ? '' : ',') + memberPrefix(name) + member;
  }
  return `${text}}`;
}

/**
 * Sorts names in place by UTF-16 code units, as Array#sort's default order does: by insertion when
 * there are few (an entry's objects have a few dozen names at most, and need no work array), by
 * Array#sort when there are many (insertion is quadratic, and the names may be a caller's).
 */
function sortNames(names: string[]): string[] {
  if (names.length > 32) return names.sort();
  for (let i = 1; i < names.length; i++) {
    const name = names[i]!;
    let j = i - 1;
    while (j >= 0 && names[j]! > name) {
      names[j + 1] = names[j]!;
      j--;
    }
    names[j + 1] = name;
  }
  return names;
}

/** What `assertJsonSafe` checks, without naming paths: the common case, on every entry's hot path. */
function isJsonSafe(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) {
    for (const item of value) if (!isJsonSafe(item)) return false;
    return true;
  }
  if (typeof value !== 'object') return false;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const child = (value as Record<string, unknown>)[key];
    if (child === undefined || !isJsonSafe(child)) return false;
  }
  return true;
}

function assertJsonSafe(value: unknown, path: string): void {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`canonicalJson: non-finite number at ${path}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, i) => assertJsonSafe(item, `${path}[${i}]`));
    return;
  }
  if (typeof value === 'object') {
    for (const [key, child] of Object.entries(value as Record<string, unknown>)) {
      if (child === undefined) throw new TypeError(`canonicalJson: undefined at ${path}.${key}`);
      assertJsonSafe(child, `${path}.${key}`);
    }
    return;
  }
  throw new TypeError(`canonicalJson: ${typeof value} at ${path} has no JSON form`);
}

/**
 * The canonical JSON of each member of a plain JSON object, by key: what `joinCanonical` puts back
 * together. An entry's members are serialized once, and the chain fields and the hash join them
 * later without serializing the entry again.
 */
export function canonicalMembers(value: Readonly<Record<string, unknown>>): Record<string, string> {
  // No prototype: a member named `__proto__` is then a member like any other, not the prototype.
  const members = Object.create(null) as Record<string, string>;
  for (const key of Object.keys(value)) {
    const member = value[key];
    if (member !== undefined) members[key] = canonicalJson(member);
  }
  return members;
}

/**
 * An object's canonical JSON from its members' canonical JSON: RFC 8785 sorts members by their
 * names' UTF-16 code units (the default sort) and writes names as JSON strings, exactly as a whole
 * serialization would (a property test holds the two equal). Several sources are joined as one
 * object, a later source's member replacing an earlier one of the same name, without copying them
 * into one: a copy of an entry's members (a prototype-less object, which V8 keeps as a hash table)
 * cost about 4 KB of garbage per entry, twice per entry on the hot path.
 */
export function joinCanonical(...sources: ReadonlyArray<Readonly<Record<string, string>>>): string {
  const names = sortNames(sources.length === 1 ? Object.keys(sources[0]!) : ownNames(sources));
  // One part per member, joined once: the result is allocated flat, at its final length.
  const parts: string[] = [];
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (i > 0 && name === names[i - 1]) continue; // in more than one source: written once, from the last
    parts.push(memberPrefix(name) + memberOf(sources, name));
  }
  if (parts.length === 0) return '{}';
  parts[0] = `{${parts[0]}`;
  parts[parts.length - 1] = `${parts[parts.length - 1]}}`;
  return parts.join(',');
}

/**
 * Where a member named `name` (held by none of the sources) would start in the text
 * `joinCanonical(...sources)` returns: what comes before it ends with `{` or `,`. The text's length
 * when every member sorts before `name`.
 */
export function memberOffset(name: string, ...sources: ReadonlyArray<Readonly<Record<string, string>>>): number {
  let offset = 1;
  for (let i = 0; i < sources.length; i++) {
    const source = sources[i]!;
    for (const key in source) {
      if (!Object.hasOwn(source, key) || !(key < name) || inLaterSource(sources, i, key)) continue; // written once, from the last
      offset += memberPrefix(key).length + source[key]!.length + 1;
    }
  }
  return offset;
}

/** Every source's own names, in one array (a name in several sources once per source). */
function ownNames(sources: ReadonlyArray<Readonly<Record<string, string>>>): string[] {
  const names: string[] = [];
  for (const source of sources) for (const key in source) if (Object.hasOwn(source, key)) names.push(key);
  return names;
}

function inLaterSource(sources: ReadonlyArray<Readonly<Record<string, string>>>, index: number, name: string): boolean {
  for (let j = index + 1; j < sources.length; j++) if (Object.hasOwn(sources[j]!, name)) return true;
  return false;
}

/** The member `name` from the last source that has it. */
function memberOf(sources: ReadonlyArray<Readonly<Record<string, string>>>, name: string): string {
  for (let i = sources.length - 1; i > 0; i--) if (Object.hasOwn(sources[i]!, name)) return sources[i]![name]!;
  return sources[0]![name]!;
}

/**
 * `"name":` for each member name (entries use a schema's few dozen), built once each. Only short
 * names are kept, and only so many: the names of a caller's data (a flag's definition) pass here too.
 */
const memberPrefixes = new Map<string, string>();
const MAX_PREFIXES = 1024;
const MAX_KEPT_NAME = 64;

function memberPrefix(name: string): string {
  let prefix = memberPrefixes.get(name);
  if (prefix === undefined) {
    prefix = `${JSON.stringify(name)}:`;
    if (memberPrefixes.size < MAX_PREFIXES && name.length <= MAX_KEPT_NAME) memberPrefixes.set(name, prefix);
  }
  return prefix;
}
