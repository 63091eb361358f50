import { flagLockKey, type FlagChange, type SettledAs } from '../platforms/index.js';
import { asFlaggateError } from '../errors.js';
import type { AuditEntry, NewEntry } from './entry.js';
import { outcomeEntry } from './new-entry.js';

export interface InDoubtDeps {
  entriesAfter(afterSeq: number, limit: number): AuditEntry[];
  head(): { seq: number };
  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;
  append(entry: NewEntry): AuditEntry | Promise<AuditEntry>;
  readState(change: FlagChange): Promise<unknown>;
  settled(change: FlagChange, current: unknown): SettledAs;
  /**
   * How long after its decision a forward may still reach the platform (the platform's forward
   * timeout): a state read sooner could see the flag before a change still under way lands.
   */
  forwardTimeoutMs: number;
  now(): number;
  /** Waits `ms` (a timer in the sidecar; tests pass their own). */
  sleep(ms: number): Promise<void>;
}

const marker = 'in_doubt_checked_through';

/**
 * At start-up, before serving: finds allowed decisions with no outcome entry (a crash came between
 * recording the decision and recording what the platform did), waits until no forward of theirs
 * can still be under way (their platform's forward timeout after the newest), reads the platform's state for each,
 * and writes the outcome entry it shows: `applied`, `not_applied` or `unknown`. Scans only entries
 * after the last check, whose reach is kept in the ledger's bookkeeping.
 */
export async function reconcileInDoubt(deps: InDoubtDeps): Promise<Array<{ decisionId: string; seq: number; status: SettledAs }>> {
  const from = Number(deps.getMeta(marker) ?? '0');
  const through = deps.head().seq;
  const open = new Map<string, AuditEntry>();
  // The newest allowed decision of each flag: the platform's state speaks for that one only.
  const newestOf = new Map<string, number>();
  for (let after = from; after < through; ) {
    const batch = deps.entriesAfter(after, 2000).filter((e) => e.seq <= through);
    if (batch.length === 0) break;
    for (const e of batch) {
      if (e.entry_type === 'change.decision' && e.decision.allow) {
        open.set(e.decision_id, e);
        for (const flag of flagsOf(e)) newestOf.set(flag, e.seq);
      } else if (e.entry_type === 'change.outcome') open.delete(e.decision_id);
    }
    after = batch[batch.length - 1]!.seq;
  }

  // A forward sent just before the crash may still land: the state is read once the newest open
  // decision's forward could no longer be under way, as the live path takes a timeout for unknown.
  const newest = Math.max(...[...open.values()].map((d) => Date.parse(d.timestamp_utc)).filter(Number.isFinite));
  const wait = newest + deps.forwardTimeoutMs - deps.now();
  if (open.size > 0 && wait > 0) await deps.sleep(Math.min(wait, deps.forwardTimeoutMs));

  const resolved: Array<{ decisionId: string; seq: number; status: SettledAs }> = [];
  for (const decision of open.values()) {
    const change = changeOf(decision);
    let status: SettledAs;
    let detail: string;
    let errorCode: string | undefined;
    if (flagsOf(decision).some((flag) => newestOf.get(flag)! > decision.seq)) {
      // Changes of one flag run one after another: a later one was decided once this one was done
      // with (forwarded or refused, its outcome lost), and the flag's state may be the later one's.
      status = 'unknown';
      detail = 'reconciled at start-up: a later change of the same flag was decided after it, so the platform\'s state cannot show whether this one was applied';
    } else try {
      status = deps.settled(change, await deps.readState(change));
      detail = `reconciled at start-up from the platform's state: ${status}`;
    } catch (err) {
      const error = asFlaggateError(err);
      status = 'unknown';
      errorCode = error.code;
      detail = `reconciled at start-up, but the platform's state could not be read: ${error.message}`;
    }
    const entry = await deps.append(outcomeEntry(decision, { status, detail, ...(errorCode ? { errorCode } : {}) }));
    resolved.push({ decisionId: decision.decision_id, seq: entry.seq, status });
  }
  deps.setMeta(marker, String(through));
  return resolved;
}

/** The flags a decision names (a change of several joins their keys with commas), as the flag locks key them. */
function flagsOf(e: AuditEntry): string[] {
  return (e.flag_key ?? '').split(',').map((key) => flagLockKey(e.platform, key));
}

function changeOf(e: AuditEntry): FlagChange {
  return {
    platform: e.platform,
    action: e.action,
    flagKey: e.flag_key ?? '',
    ...(e.project !== null ? { project: e.project } : {}),
    ...(e.environment !== null ? { environment: e.environment } : {}),
    previousState: e.previous_state,
    newState: e.new_state,
    request: { method: e.request.method, path: e.request.path, bodySha256: e.request.body_sha256 },
  };
}
