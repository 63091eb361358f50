import { openLedgerReader, readLedgerMeta } from '../audit/index.js';
import type { PolicyRevision } from '../policy/index.js';

/** Ledger meta: the bundle in force when the chain last recorded one, so a swap across a restart is recorded too. */
export const IN_FORCE = 'policy.in_force';

/**
 * The marker as stored. While a swap is being recorded it also names the bundle swapped in and the
 * chain's head before its entry: a start after a crash in that window learns from the chain which of
 * the two was last recorded as in force (the one before the swap is exempt from the rollback check,
 * and must not be once the swap away from it is on record).
 */
interface Marker extends PolicyRevision {
  swappingTo?: PolicyRevision & { afterSeq: number };
}

/** What the marker needs of the entries after a seq, in seq order. */
export type EntriesAfter = (afterSeq: number, limit: number) => Array<{ seq: number; entry_type: string; new_state: unknown }>;

export function markerText(inForce: PolicyRevision, swappingTo?: PolicyRevision & { afterSeq: number }): string {
  const marker: Marker = { revision: inForce.revision, sha256: inForce.sha256 };
  if (swappingTo) marker.swappingTo = { revision: swappingTo.revision, sha256: swappingTo.sha256, afterSeq: swappingTo.afterSeq };
  return JSON.stringify(marker);
}

/** The bundle the chain last recorded as in force, from the marker's text; undefined without one. */
export function inForceOf(text: string | undefined, entriesAfter: EntriesAfter): PolicyRevision | undefined {
  if (text === undefined) return undefined;
  const marker = JSON.parse(text) as Marker;
  const before = { revision: marker.revision, sha256: marker.sha256 };
  const next = marker.swappingTo;
  if (next === undefined) return before;
  // Only the entries since the swap began: a crash ended it, so they are few.
  for (let after = next.afterSeq; ; ) {
    const page = entriesAfter(after, 500);
    if (page.length === 0) return before;
    for (const e of page) {
      if (e.entry_type === 'policy.activated' && (e.new_state as { sha256?: unknown } | null)?.sha256 === next.sha256) return { revision: next.revision, sha256: next.sha256 };
    }
    after = page[page.length - 1]!.seq;
  }
}

/** The same from the ledger file, before the sidecar opens it; undefined when unreadable (reported when it opens: it exempts nothing). */
export function readInForce(path: string): PolicyRevision | undefined {
  try {
    const text = readLedgerMeta(path, IN_FORCE);
    if (text === undefined) return undefined;
    const reader = openLedgerReader(path);
    try {
      return inForceOf(text, (after, limit) =>
        reader.rowsAfter(after, limit).map((r) => ({ seq: r.seq, ...(JSON.parse(r.body) as { entry_type: string; new_state: unknown }) })),
      );
    } finally {
      reader.close();
    }
  } catch {
    return undefined;
  }
}
