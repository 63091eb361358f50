import type { AuditEntry, NewEntry } from './entry.js';
import type { Ledger } from './ledger.js';

/**
 * Groups appends that arrive while a commit is being prepared into one transaction, so concurrent
 * changes share one fsync. Each promise resolves only after its own entry is committed; a failed
 * group rejects every entry in it and leaves the ledger as it was (the transaction rolls back).
 */
export function createGroupCommit(ledger: Pick<Ledger, 'appendMany'>): { append(entry: NewEntry): Promise<AuditEntry> } {
  let pending: Array<{ entry: NewEntry; resolve(e: AuditEntry): void; reject(err: unknown): void }> = [];
  const flush = () => {
    const group = pending;
    pending = [];
    try {
      const written = ledger.appendMany(group.map((p) => p.entry));
      group.forEach((p, i) => p.resolve(written[i]!));
    } catch (err) {
      for (const p of group) p.reject(err);
    }
  };
  return {
    append(entry) {
      return new Promise((resolve, reject) => {
        if (pending.length === 0) setImmediate(flush);
        pending.push({ entry, resolve, reject });
      });
    },
  };
}
