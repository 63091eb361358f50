import type { AuditEntry, NewEntry, Unrecorded } from './entry.js';

/** The chain fields the ledger adds to a writer's entry when it commits it. */
export interface ChainFields {
  chain_id: string;
  seq: number;
  prev_hash: string;
  event_id: string;
  timestamp_utc: string;
  unrecorded: Unrecorded | null;
}

/**
 * Makes the values of a checked entry (plain JSON) the ledger's to keep: freezes every object and
 * array in its members, so nothing can change them once they are committed (replication and the
 * members an outcome carries from its decision read them as the stored text says). False when a
 * value would read back otherwise from the stored text (-0, which canonical JSON writes as 0): the
 * ledger then keeps the stored text parsed instead.
 */
export function freezeForKeeping(entry: NewEntry): boolean {
  for (const name in entry) if (!frozenExact((entry as unknown as Record<string, unknown>)[name])) return false;
  return true;
}

/** Objects frozen here with nothing under them that reads back otherwise: an outcome's carried members are not walked again. */
const kept = new WeakSet<object>();

function frozenExact(v: unknown): boolean {
  if (typeof v === 'number') return !Object.is(v, -0);
  if (v === null || typeof v !== 'object' || kept.has(v)) return true;
  Object.freeze(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!frozenExact(v[i])) return false;
  } else {
    for (const key in v) if (!frozenExact((v as Record<string, unknown>)[key])) return false;
  }
  kept.add(v);
  return true;
}

/**
 * The committed entry built from the writer's frozen values and the chain fields, its members in
 * the order the stored text has them, every entry with the same shape (so V8 keeps it a fast
 * object, not a hash table): the stored text parsed again, without the parse and its copies.
 */
export function keptEntry(v: NewEntry, chain: ChainFields, hash: string): AuditEntry {
  const entry: AuditEntry = {
    action: v.action,
    actor: v.actor,
    approval: v.approval,
    chain_id: chain.chain_id,
    change_request_id: v.change_request_id,
    decision: v.decision,
    decision_id: v.decision_id,
    entry_type: v.entry_type,
    environment: v.environment,
    event_id: chain.event_id,
    flag_key: v.flag_key,
    linked_artifacts: v.linked_artifacts,
    new_state: v.new_state,
    outcome: v.outcome,
    platform: v.platform,
    prev_hash: chain.prev_hash,
    previous_state: v.previous_state,
    project: v.project,
    reason: v.reason,
    request: v.request,
    seq: chain.seq,
    timestamp_utc: chain.timestamp_utc,
    unrecorded: chain.unrecorded,
    hash,
  };
  // The members only some entries have, present only where the writer set them.
  if (v.context_sources !== undefined) entry.context_sources = v.context_sources;
  if (v.drift !== undefined) entry.drift = v.drift;
  if (v.break_glass !== undefined) entry.break_glass = v.break_glass;
  return entry;
}
