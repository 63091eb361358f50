import { canonicalJson, memberOffset } from './canonical.js';
import type { AuditEntry, NewEntry } from './entry.js';

type Members = Readonly<Record<string, string>>;

/** The stored text and canonical members of entries the ledger just committed, so their text is not serialized again. */
const committedMembers = new WeakMap<AuditEntry, { text: string; members: readonly Members[] }>();

/**
 * Called by the ledger for an entry it committed: `text` is its body as stored, joined by
 * `joinCanonical` from `members`, of which the first are the writer's.
 */
export function rememberMembers(entry: AuditEntry, text: string, ...members: Members[]): void {
  committedMembers.set(entry, { text, members });
}

/** The ledger's own object for each copy of a committed entry it handed out. */
const keptOf = new WeakMap<AuditEntry, AuditEntry>();

/** Called by the ledger for the copy of `kept` it gives the writer. */
export function rememberCopy(copy: AuditEntry, kept: AuditEntry): void {
  keptOf.set(copy, kept);
}

/** New entries built from a committed one, carrying its members (an outcome carries its decision's). */
const carriedFrom = new WeakMap<NewEntry, AuditEntry>();

/** Called by the builder of `entry` (`outcomeEntry`): its members not set anew are `committed`'s, as committed. */
export function carriesMembersOf(entry: NewEntry, committed: AuditEntry): void {
  carriedFrom.set(entry, committed);
}

/** A member of a committed entry an entry carries unchanged: its value, and its text as checked and committed. */
export type CarriedMember = (name: string, value: unknown) => string | undefined;

/**
 * For an entry built from a committed one: the committed text of a member whose value is the very
 * value the committed entry holds (the same object, or an equal primitive), else undefined. The
 * committed entry's objects are its stored text parsed, which nothing changes after the commit, so
 * that text is theirs; a member set anew (another object) is checked and serialized as usual.
 * Nothing is carried from a stand-in, whose members were not the writer's.
 */
export function carriedMembers(entry: NewEntry): CarriedMember | undefined {
  const from = carriedFrom.get(entry);
  if (from === undefined) return undefined;
  const kept = keptOf.get(from) ?? from;
  const members = committedMembers.get(kept)?.members[0];
  if (members === undefined || kept.unrecorded !== null) return undefined;
  return (name, value) => (Object.hasOwn(members, name) && (kept as unknown as Record<string, unknown>)[name] === value ? members[name] : undefined);
}

/**
 * An entry with its hash as canonical JSON (a JSON Lines record). For an entry the ledger kept, its
 * stored text with the `hash` member put in at its place in the sorted members (found from the
 * members' lengths), not the members joined again.
 */
export function canonicalEntry(entry: AuditEntry): string {
  const committed = committedMembers.get(entry);
  if (!committed || typeof entry.hash !== 'string' || committed.members.some((m) => Object.hasOwn(m, 'hash'))) return canonicalJson(entry);
  const { text, members } = committed;
  const hash = `"hash":${JSON.stringify(entry.hash)}`;
  const at = memberOffset('hash', ...members);
  if (at < text.length - 1) return `${text.slice(0, at)}${hash},${text.slice(at)}`;
  return text.length > 2 ? `${text.slice(0, -1)},${hash}}` : `{${hash}}`;
}

/**
 * An entry's body as the ledger stored it (the entry without `hash`, canonical JSON: what its hash
 * covers): the stored text itself for an entry the ledger kept, else serialized.
 */
export function storedBody(entry: AuditEntry): string {
  const committed = committedMembers.get(entry);
  if (committed) return committed.text;
  const { hash: _hash, ...body } = entry;
  return canonicalJson(body);
}
