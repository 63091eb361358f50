import { isDeepStrictEqual } from 'node:util';
import { collectWindows, explainedAt, windowsToCarry, type ChangeWindow, type DriftEntry } from './explain.js';
import type { FlagRef, PlatformEvent, Snapshot } from './probe.js';

/** What the watcher last saw of the platform, kept between checks (and across restarts). */
export interface Baseline {
  /** Ledger head read before the last snapshot: changes after it are the ones still to account for. */
  seq: number;
  checkedAtMs: number;
  flags: Record<string, { project: string | null; state: unknown }>;
  digest: string | null;
  /** The file's members beside its flags, as last seen (`Snapshot.fileParts`). */
  fileParts?: unknown;
  /** Highest platform event id already looked at. */
  eventCursor: number;
  windows: ChangeWindow[];
  /** The probe's `Snapshot.stateForm` when the states were taken (absent: the first form). */
  stateForm?: number;
}

/** One change on the platform that no flaggate change explains. */
export interface Finding {
  source: 'state' | 'event_log' | 'file';
  flagKey: string | null;
  project: string | null;
  environment: string | null;
  before: unknown;
  after: unknown;
  eventId: string | null;
  actor: string | null;
  platformTimeMs: number | null;
  detail: string;
}

export interface CheckInput {
  baseline: Baseline | undefined;
  /** Ledger head read before the snapshot. */
  headSeq: number;
  /**
   * Ledger entries after `baseline.seq`, read after the snapshot (so every change the snapshot shows
   * is among them). Read once, in order: a generator paging through the ledger holds one page.
   */
  entries: Iterable<DriftEntry>;
  snapshot: Snapshot;
  events: readonly PlatformEvent[];
  /** The platform's name for flaggate's own credential; events by anyone else are never explained. */
  self: string | undefined;
  platform: string;
  source: 'state' | 'file';
  nowMs: number;
  /** Clock difference tolerated between flaggate and the platform. */
  skewMs: number;
}

/**
 * Compares the platform with what the watcher last saw and accounts for every difference: a flag
 * whose state changed, or a platform event, is explained only by a flaggate change to that flag in
 * the same span (its decision entry to its outcome entry). Pure: reads nothing, writes nothing.
 * The first check (no baseline) only takes one.
 */
export function checkDrift(input: CheckInput): { findings: Finding[]; baseline: Baseline } {
  const prev = input.baseline;
  const keepMs = 2 * input.skewMs;
  // Without a baseline nothing is explained: only the windows a later check may need are kept.
  const seen = collectWindows(prev?.windows ?? [], input.entries, input.platform, prev ? -Infinity : input.nowMs - keepMs);
  const windows = seen.windows;
  const projectOf = projectsOf(seen.projects, input.events);
  const findings: Finding[] = [];
  const lastEventId = Math.max(prev?.eventCursor ?? 0, ...input.events.map((e) => e.id));
  if (prev) {
    findings.push(...eventFindings(input, prev, windows));
    const flaggedByEvents = new Set(findings.map((f) => f.flagKey));
    // A flaggate change explains a state difference only if it may have landed after the last
    // snapshot: still in flight then, or finished since (one clock, flaggate's, on both sides).
    const landedSince = (w: ChangeWindow) => w.applied && (w.toMs === null || w.toMs >= prev.checkedAtMs);
    const changedSince = (key: string) => windows.some((w) => w.flagKey === key && landedSince(w));
    // States of another form (a release that reads more of them) are taken anew, not compared.
    const comparable = (prev.stateForm ?? 1) === (input.snapshot.stateForm ?? 1);
    for (const [key, after] of comparable ? input.snapshot.flags : []) {
      const seen = prev.flags[key];
      const before = seen === undefined ? null : seen.state;
      if (isDeepStrictEqual(before, after) || flaggedByEvents.has(key)) continue;
      const laundered = changedSince(key) && input.snapshot.statesAsRecorded ? decidedOnOther(windows, key, prev, before) : undefined;
      if (changedSince(key) && laundered === undefined) continue;
      findings.push({
        source: input.source,
        flagKey: key,
        project: seen?.project ?? projectOf(key),
        environment: null,
        before,
        after: laundered === undefined ? after : laundered.from,
        eventId: null,
        actor: null,
        platformTimeMs: null,
        detail:
          laundered === undefined
            ? `flag ${key} in ${input.platform} differs from what flaggate last saw, and no flaggate change explains it`
            : `flag ${key} in ${input.platform} was changed outside flaggate before flaggate's change ${laundered.decisionId}, which was decided on the state shown after`,
      });
    }
    const parts = filePartsFinding(prev, input);
    if (parts) findings.push(parts);
    const digestChanged = input.snapshot.digest !== undefined && prev.digest !== null && input.snapshot.digest !== prev.digest;
    const anyChange = windows.some(landedSince);
    if (digestChanged && findings.length === 0 && !anyChange) {
      findings.push({
        source: input.source,
        flagKey: null,
        project: null,
        environment: null,
        before: { sha256: prev.digest },
        after: { sha256: input.snapshot.digest },
        eventId: null,
        actor: null,
        platformTimeMs: null,
        detail: `the content of the ${input.platform} flag file changed outside flaggate, though no flag's definition did`,
      });
    }
  }
  const flags: Baseline['flags'] = { ...(prev?.flags ?? {}) };
  for (const [key, state] of input.snapshot.flags) flags[key] = { project: flags[key]?.project ?? projectOf(key), state };
  return {
    findings,
    baseline: {
      seq: input.headSeq,
      checkedAtMs: input.nowMs,
      flags,
      digest: input.snapshot.digest ?? null,
      ...(input.snapshot.fileParts === undefined ? {} : { fileParts: input.snapshot.fileParts }),
      ...(input.snapshot.stateForm === undefined ? {} : { stateForm: input.snapshot.stateForm }),
      eventCursor: lastEventId,
      windows: windowsToCarry(windows, input.nowMs, keepMs),
    },
  };
}

/**
 * A change explains a flag's difference only from the state it was decided on: the first change
 * begun since the last check must have started from the state seen then, or the flag was edited
 * outside flaggate in between (the change's own entry shows it in `previous_state`). Undefined when
 * the changes account for it, or cannot tell (one was in flight at the last check).
 */
function decidedOnOther(windows: readonly ChangeWindow[], key: string, prev: Baseline, before: unknown): ChangeWindow | undefined {
  const mine = windows.filter((w) => w.flagKey === key && w.applied && (w.toMs === null || w.toMs >= prev.checkedAtMs));
  if (mine.length === 0 || mine.some((w) => w.fromMs < prev.checkedAtMs || w.from === undefined)) return undefined;
  const first = mine.reduce((a, b) => (b.fromMs < a.fromMs ? b : a));
  return isDeepStrictEqual(first.from ?? null, before) ? undefined : first;
}

/** The platform's events since the last check that no flaggate change explains. */
function eventFindings(input: CheckInput, prev: Baseline, windows: ChangeWindow[]): Finding[] {
  const findings: Finding[] = [];
  for (const event of input.events) {
    if (event.id <= prev.eventCursor) continue;
    const byFlaggate = input.self !== undefined && event.actor === input.self;
    if (byFlaggate && explainedAt(windows, event, input.nowMs, input.skewMs)) continue;
    findings.push({
      source: 'event_log',
      flagKey: event.flagKey,
      project: event.project,
      environment: event.environment,
      before: event.before ?? null,
      after: event.after ?? null,
      eventId: String(event.id),
      actor: event.actor,
      platformTimeMs: event.timeMs,
      detail: `${input.platform} event ${event.id} (${event.type}) by ${event.actor ?? 'an unknown actor'} is explained by no flaggate change`,
    });
  }
  return findings;
}

/** flaggate never writes a file's members beside its flags: no change of its explains a change of theirs. */
function filePartsFinding(prev: Baseline, input: CheckInput): Finding | undefined {
  const parts = input.snapshot.fileParts;
  if (parts === undefined || prev.fileParts === undefined || isDeepStrictEqual(parts, prev.fileParts)) return undefined;
  return {
    source: input.source,
    flagKey: null,
    project: null,
    environment: null,
    before: prev.fileParts,
    after: parts,
    eventId: null,
    actor: null,
    platformTimeMs: null,
    detail: `the ${input.platform} flag file's members beside its flags ($evaluators, metadata) changed outside flaggate: every flag whose rules use them may serve otherwise`,
  };
}

/** The flags to snapshot: those seen before, those flaggate changed since (read once, in order), and those the platform's events name. */
export function flagsToWatch(baseline: Baseline | undefined, entries: Iterable<DriftEntry>, events: readonly PlatformEvent[], platform: string): FlagRef[] {
  const refs = new Map<string, FlagRef>();
  for (const [key, f] of Object.entries(baseline?.flags ?? {})) refs.set(key, { key, project: f.project ?? undefined });
  for (const e of entries) if (e.platform === platform && e.flag_key !== null && !refs.has(e.flag_key)) refs.set(e.flag_key, { key: e.flag_key, project: e.project ?? undefined });
  for (const e of events) if (e.flagKey !== '' && !refs.has(e.flagKey)) refs.set(e.flagKey, { key: e.flagKey, project: e.project ?? undefined });
  return [...refs.values()];
}

/** Each flag's project: from the first entry that names one (`fromEntries`), else the first event. */
function projectsOf(fromEntries: ReadonlyMap<string, string>, events: readonly PlatformEvent[]): (key: string) => string | null {
  const index = new Map<string, string | null>();
  for (const e of events) if (!index.has(e.flagKey)) index.set(e.flagKey, e.project ?? null);
  // Entries win over events.
  for (const [key, project] of fromEntries) index.set(key, project);
  return (key) => index.get(key) ?? null;
}
