import type { AuditEntry, NewEntry } from './entry.js';
import type { Ledger, PreparedEntry } from './ledger.js';

interface Waiting {
  entry: PreparedEntry;
  resolve(e: AuditEntry): void;
  reject(err: unknown): void;
}

/** What a sidecar commits its entries through. */
export interface GroupCommit {
  /**
   * Commits `entry` with the next group; resolves once it is on disk. With `soon`, the entry asks
   * for no commit of its own: it rides the next group another entry asks for, or is committed
   * within `soonMs`, whichever comes first, still in the order appended.
   */
  append(entry: NewEntry, options?: { soon?: boolean }): Promise<AuditEntry>;
  /** Commits what waits, now: before the ledger is read by anyone who must see it, or closed. */
  flush(): void;
}

/** How long an entry appended `soon` waits for a group to ride (an outcome after its reply). */
export const SOON_COMMIT_MS = 10;

/**
 * Groups appends that arrive while a commit is being prepared into one transaction, so concurrent
 * changes share one fsync. Each entry is prepared (validated, canonicalized, or replaced by its
 * capped stand-in) before it joins a group, so no entry's content can fail anyone else's commit.
 * Each promise resolves only after its own entry is committed. If a group's transaction fails all
 * the same (disk full, I/O error), each entry is then tried in a transaction of its own, so a
 * failure that belongs to one entry stays with that entry.
 */
export function createGroupCommit(ledger: Pick<Ledger, 'prepare' | 'commit'>, options: { soonMs?: number } = {}): GroupCommit {
  const soonMs = options.soonMs ?? SOON_COMMIT_MS;
  let pending: Waiting[] = [];
  // A commit is asked for (on the next turn of the event loop), or only timed (for `soon` entries).
  let asked = false;
  let timer: NodeJS.Timeout | undefined;
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
    asked = false;
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
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
    flush,
    append(entry, appendOptions) {
      return new Promise((resolve, reject) => {
        let ready: PreparedEntry;
        try {
          ready = ledger.prepare(entry);
        } catch (err) {
          reject(err);
          return;
        }
        pending.push({ entry: ready, resolve, reject });
        if (asked) return;
        if (appendOptions?.soon) {
          timer ??= setTimeout(flush, soonMs);
        } else {
          asked = true;
          setImmediate(flush);
        }
      });
    },
  };
}
