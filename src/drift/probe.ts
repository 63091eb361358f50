/**
 * What the drift watcher asks of a platform. A probe only reads: it never writes to the platform.
 */

/** A flag as the probe knows it: its key, and the project it lives in where the platform has projects. */
export interface FlagRef {
  key: string;
  project?: string | undefined;
}

/** The platform's current state of the flags asked for (or of all, for platforms that hold them in one place). */
export interface Snapshot {
  /** Flag key → state, in the probe's own normalized form; a flag that is not there is `null`. */
  flags: Map<string, unknown>;
  /** A digest of the whole content, for platforms whose state is one file: any edit shows here. */
  digest?: string;
  /**
   * A file's members beside its flags (flagd's `$evaluators`, `metadata`), which flaggate never
   * writes: any change of them is drift, whatever flaggate changed meanwhile.
   */
  fileParts?: unknown;
  /**
   * The flags' states are in the form a change records as `previous_state` (a flagd definition):
   * a change explains a difference only if it was decided on the state last seen.
   */
  statesAsRecorded?: boolean;
  /**
   * Which form of the probe's states this is (absent: the first). A release that reads more of a
   * flag's state gives a new form: a baseline of another form is not compared state by state (its
   * states would all differ), and the check takes the new form as its baseline.
   */
  stateForm?: number;
}

/** One entry of the platform's own event log that concerns a flag. */
export interface PlatformEvent {
  /** The platform's id for the event; ids grow with time. */
  id: number;
  type: string;
  flagKey: string;
  project: string | null;
  environment: string | null;
  /** Who the platform says made the change. */
  actor: string | null;
  /** When, in milliseconds since the epoch. */
  timeMs: number;
  before: unknown;
  after: unknown;
}

export interface DriftProbe {
  readonly platform: string;
  /** How a state difference is described: `file` for a flag file, `state` otherwise. */
  readonly source: 'state' | 'file';
  /** The current state of `known` flags (and any others the platform shows at once). */
  snapshot(known: readonly FlagRef[]): Promise<Snapshot>;
  /**
   * Flag events with an id above `afterId`, oldest first; without `afterId` (the first look), only
   * the newest event, to start from. Absent for platforms without an event log.
   */
  events?(afterId: number | undefined): Promise<PlatformEvent[]>;
  /** The name the platform records for flaggate's own credential (its events are the ones flaggate's changes can explain). */
  self?(): Promise<string>;
}
