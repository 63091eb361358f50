import canonicalizeModule from 'canonicalize';

type Serialize = (input: unknown) => string | undefined;
// The package is CommonJS with an ESM-style typing: at run time the default import is the function.
const canonicalize = canonicalizeModule as unknown as Serialize;

/**
 * RFC 8785 (JCS) canonical JSON. Throws TypeError for values JSON cannot carry (undefined at the
 * top, functions, non-finite numbers), which would otherwise hash as something other than stored.
 */
export function canonicalJson(value: unknown): string {
  // The walk that names the offending path builds a string per node: run it only to explain a failure.
  if (!isJsonSafe(value)) assertJsonSafe(value, '$');
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonicalJson: value has no JSON form');
  return text;
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
  const names = sources.length === 1 ? Object.keys(sources[0]!) : sources.flatMap((source) => Object.keys(source));
  names.sort();
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

/** The member `name` from the last source that has it. */
function memberOf(sources: ReadonlyArray<Readonly<Record<string, string>>>, name: string): string {
  for (let i = sources.length - 1; i > 0; i--) if (Object.hasOwn(sources[i]!, name)) return sources[i]![name]!;
  return sources[0]![name]!;
}

/** `"name":` for each member name joined (entries use a schema's few dozen), built once each. */
const memberPrefixes = new Map<string, string>();
const MAX_PREFIXES = 1024;

function memberPrefix(name: string): string {
  let prefix = memberPrefixes.get(name);
  if (prefix === undefined) {
    prefix = `${JSON.stringify(name)}:`;
    if (memberPrefixes.size < MAX_PREFIXES) memberPrefixes.set(name, prefix);
  }
  return prefix;
}
