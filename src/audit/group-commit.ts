import type { AuditEntry, NewEntry } from './entry.js';
import type { Ledger, PreparedEntry } from './ledger.js';

interface Waiting {
  entry: PreparedEntry;
  resolve(e: AuditEntry): void;
  reject(err: unknown): void;
}

/**
 * Groups appends that arrive while a commit is being prepared into one transaction, so concurrent
 * changes share one fsync. Each entry is prepared (validated, canonicalized, or replaced by its
 * capped stand-in) before it joins a group, so no entry's content can fail anyone else's commit.
 * Each promise resolves only after its own entry is committed. If a group's transaction fails all
 * the same (disk full, I/O error), each entry is then tried in a transaction of its own, so a
 * failure that belongs to one entry stays with that entry.
 */
export function createGroupCommit(ledger: Pick<Ledger, 'prepare' | 'commit'>): { append(entry: NewEntry): Promise<AuditEntry> } {
  let pending: Waiting[] = [];
  const commitEach = (group: Waiting[]) => {
    for (const w of group) {
      try {
        w.resolve(ledger.commit([w.entry])[0]!);
      } catch (err) {
        w.reject(err);
      }
    }
  };
  const flush = () => {
    const group = pending;
    pending = [];
    let written: AuditEntry[];
    try {
      written = ledger.commit(group.map((w) => w.entry));
    } catch (err) {
      if (group.length > 1) commitEach(group);
      else group[0]!.reject(err);
      return;
    }
    group.forEach((w, i) => w.resolve(written[i]!));
  };
  return {
    append(entry) {
      return new Promise((resolve, reject) => {
        let ready: PreparedEntry;
        try {
          ready = ledger.prepare(entry);
        } catch (err) {
          reject(err);
          return;
        }
        if (pending.length === 0) setImmediate(flush);
        pending.push({ entry: ready, resolve, reject });
      });
    },
  };
}
