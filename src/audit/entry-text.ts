import { canonicalJson, joinCanonical } from './canonical.js';
import type { AuditEntry } from './entry.js';

type Members = Readonly<Record<string, string>>;

/** The canonical members of entries the ledger just committed, so their text is not serialized again. */
const committedMembers = new WeakMap<AuditEntry, readonly Members[]>();

/** Called by the ledger for an entry it committed: `members` are its body's, as stored, in sources `joinCanonical` joins. */
export function rememberMembers(entry: AuditEntry, ...members: Members[]): void {
  committedMembers.set(entry, members);
}

/** An entry with its hash as canonical JSON (a JSON Lines record): joined from its members when the ledger kept them. */
export function canonicalEntry(entry: AuditEntry): string {
  const members = committedMembers.get(entry);
  return members ? joinCanonical(...members, { hash: JSON.stringify(entry.hash) }) : canonicalJson(entry);
}
