import type { AuditEntry } from '../audit/index.js';

/**
 * The time span in which one flaggate change could have shown on the platform: from its decision
 * entry (committed before anything is forwarded) to its outcome entry (`toMs` null while in flight).
 */
export interface ChangeWindow {
  decisionId: string;
  flagKey: string;
  project: string | null;
  /** The change's environment; null or '*' for a flag-wide change. */
  environment: string | null;
  fromMs: number;
  toMs: number | null;
  /** False once the outcome says nothing reached the platform. */
  applied: boolean;
  /** The state the change was decided on (its decision entry's `previous_state`). */
  from?: unknown;
}

const notApplied = new Set(['failed', 'not_forwarded', 'not_applied']);

/** What the drift check reads of an entry (a whole entry is one). */
export type DriftEntry = Pick<AuditEntry, 'entry_type' | 'platform' | 'flag_key' | 'project' | 'environment' | 'decision_id' | 'decision' | 'outcome' | 'timestamp_utc'> & Partial<Pick<AuditEntry, 'previous_state'>>;

/**
 * Adds the changes in `entries` (the ledger after the last check, read once, in order) to the
 * windows carried from before, and closes windows whose outcome arrived. Only allowed decisions of
 * `platform` open one. A window that closes before `dropClosedBefore` is let go at once (the first
 * check, which explains nothing, keeps only windows a later check may need: a large ledger's whole
 * history is never held). Also notes each flag's project, from the first entry that names one.
 */
export function collectWindows(
  carried: readonly ChangeWindow[],
  entries: Iterable<DriftEntry>,
  platform: string,
  dropClosedBefore = -Infinity,
): { windows: ChangeWindow[]; projects: Map<string, string> } {
  const windows = new Map(carried.map((w) => [w.decisionId, { ...w }]));
  const projects = new Map<string, string>();
  for (const e of entries) {
    if (e.flag_key !== null && e.project !== null && !projects.has(e.flag_key)) projects.set(e.flag_key, e.project);
    if (e.platform !== platform || e.flag_key === null) continue;
    if (e.entry_type === 'change.decision' && e.decision.allow) {
      windows.set(e.decision_id, {
        decisionId: e.decision_id,
        flagKey: e.flag_key,
        project: e.project,
        environment: e.environment,
        fromMs: Date.parse(e.timestamp_utc),
        toMs: null,
        applied: true,
        ...(e.previous_state === undefined ? {} : { from: e.previous_state }),
      });
    } else if (e.entry_type === 'change.outcome') {
      const w = windows.get(e.decision_id);
      if (w) {
        w.toMs = Date.parse(e.timestamp_utc);
        w.applied = !notApplied.has(e.outcome?.status ?? '');
        if (w.toMs < dropClosedBefore) windows.delete(e.decision_id);
      }
    }
  }
  return { windows: [...windows.values()], projects };
}

/**
 * The flaggate change to `flagKey` that spans `timeMs` (widened by `skewMs` each side; an open
 * window runs to `nowMs`) in `environment` (a flag-wide change or event matches any).
 */
export function explainedAt(windows: readonly ChangeWindow[], at: { flagKey: string; environment: string | null; timeMs: number }, nowMs: number, skewMs: number): ChangeWindow | undefined {
  const sameEnvironment = (w: ChangeWindow) => at.environment === null || w.environment === null || w.environment === '*' || w.environment === at.environment;
  return windows.find((w) => w.applied && w.flagKey === at.flagKey && sameEnvironment(w) && w.fromMs - skewMs <= at.timeMs && at.timeMs <= (w.toMs ?? nowMs) + skewMs);
}

/** Windows a later check may still need: open ones, and ones closed within `keepMs` of `nowMs`. */
export function windowsToCarry(windows: readonly ChangeWindow[], nowMs: number, keepMs: number): ChangeWindow[] {
  return windows.filter((w) => w.toMs === null || w.toMs >= nowMs - keepMs);
}
