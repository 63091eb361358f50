import type { RawRequest } from '../intercept/index.js';

/**
 * A platform is one plug-in folder under src/platforms/<name>/ exporting one `PlatformPlugin`,
 * listed once in ./registry.ts. The plug-in checks its settings, makes an example on first run if
 * it has one, and creates the running `Platform`: classify, read state, settled, forward.
 */

/** A normalized, platform-independent description of one write. */
export interface FlagChange {
  /** 'unleash' | 'flagd' | ... */
  platform: string;
  /** 'flag.enable' | 'flag.disable' | 'flag.create' | 'flag.update' | 'flag.archive' | 'flag.delete'
   *  | 'strategy.create' | 'strategy.update' | 'strategy.delete' */
  action: string;
  project?: string;
  flagKey: string;
  environment?: string;
  /**
   * The environments the change can alter: `[]` for none (a new flag, disabled everywhere;
   * descriptive metadata such as links, tags, lifecycle), `['*']` for every environment (archive,
   * delete, revive, type, dependencies…), else the names it writes to. Absent: as `environment` says.
   */
  environments?: string[];
  /**
   * A change over many flags (a bulk toggle, a batch archive, a segment or context field used by
   * many strategies) lists every flag it alters, each with the environments it alters there; it is
   * one decision, all or nothing. `environments` is then the union of theirs, and `flagKey` names
   * the batch (the flags' keys joined by `,`, or `segment:<id>`, `context:<name>`).
   */
  flags?: FlagTarget[];
  /**
   * The change also alters something its platform's other changes share (Unleash's instance-wide
   * tag catalogue): it runs alone on its platform, holding the common lock exclusive, as a change
   * by id does (`flagLockKeys`), so what its state read found is still so when it applies.
   */
  exclusive?: true;
  /** Read from the platform before the change; `null` when the flag does not exist yet. */
  previousState?: unknown;
  /** What the request asks for, normalized. */
  newState?: unknown;
  /** The request as forwarded (DecidedRequest's method, target and body digest). */
  request: { method: string; path: string; bodySha256: string };
}

/** One flag a change over many flags alters, and where. */
export interface FlagTarget {
  flagKey: string;
  project?: string;
  /** As FlagChange.environments: `[]` none, `['*']` every one, else the names. */
  environments: string[];
}

/** A read the adapter recognized; it passes through after a read check. */
export interface FlagRead {
  platform: string;
  action: 'flag.read';
  project?: string;
  flagKey?: string;
  environment?: string;
}

/**
 * The request flaggate sends the platform, rebuilt from what it classified and never passed
 * through: a canonical path, an allowlisted query, a Content-Type flaggate writes, and the body
 * whose digest the entry records. A write's `change.request` describes exactly this request.
 */
export interface DecidedRequest {
  method: string;
  /** Canonical path plus allowlisted query, as flaggate encoded them. */
  target: string;
  /** The Content-Type flaggate sends, or null when no body is sent. */
  contentType: string | null;
  body: Buffer;
  /** Hex SHA-256 of `body`. */
  bodySha256: string;
}

export type Classification =
  | { kind: 'read'; read: FlagRead; forward: DecidedRequest }
  | { kind: 'write'; change: FlagChange; forward: DecidedRequest }
  | { kind: 'unrecognized'; method: string; path: string; reason: string };

/** What the platform (or the file applier) answered. */
export interface PlatformResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /**
   * Set by a platform whose refusal of this request does not prove nothing was applied (Flagsmith
   * saves a feature state's value before it validates the rest): the outcome of an error status is
   * then `unknown`, not `failed`.
   */
  mayHaveActed?: boolean;
}

/**
 * One platform behind flaggate. `classify` never performs I/O and throws FlaggateError
 * (ADAPT_BODY_MALFORMED, ADAPT_MEDIA_TYPE_UNSUPPORTED, ADAPT_ROUTE_UNKNOWN) on bad input;
 * `readState` asks the platform for the flag's current state (ADAPT_STATE_UNAVAILABLE on failure).
 * Sending the request on is the forward stage's job (`src/forward/`), not the adapter's.
 */
export interface PlatformAdapter {
  readonly name: string;
  classify(req: RawRequest): Classification;
  readState(change: FlagChange): Promise<unknown>;
  /**
   * After a crash: did `change` take effect, judging by the platform's `current` state (as
   * `readState` returns it)? `unknown` when the state cannot tell.
   */
  settled(change: FlagChange, current: unknown): SettledAs;
  /**
   * For changes whose reach lives on the platform (the strategies that use a segment or a context
   * field): the flags and environments they alter, derived from the state `readState` returned
   * (pure, so a held change can be checked against its request again). Undefined: as classified.
   * Throws ADAPT_TARGET_MISMATCH when the state shows that the platform would alter something other
   * than the change names (an id of another environment's strategy, another flag's link).
   */
  reach?(change: FlagChange, previousState: unknown): Pick<FlagChange, 'flags' | 'environments' | 'environment'> | undefined;
}

export type SettledAs = 'applied' | 'not_applied' | 'unknown';

/**
 * Sends an allowed request on to the platform (or applies it, for file-backed platforms). The
 * request is the one the adapter rebuilt from what it classified, never the client's bytes;
 * `change` is absent for reads.
 */
export type Forward = (request: DecidedRequest, change?: FlagChange) => Promise<PlatformResponse>;

/** A running platform: the adapter half (classify, read state, settled) and the forward half. */
export interface Platform extends PlatformAdapter {
  forward: Forward;
}

/** The `platform` block of the configuration, shared by every plug-in (FLAGGATE_TARGET_* and friends). */
export interface PlatformSettings {
  name: string;
  /** Base URL of the platform; for file platforms, the file's path. */
  targetUrl?: string | undefined;
  /** The platform credential only the sidecar holds. */
  targetToken?: string | undefined;
  /** For platforms whose target holds one environment: its name. */
  environment: string;
  timeoutMs: number;
  /** Platform `rest`: the mapping of the service's routes, checked by that plug-in. */
  rest?: unknown;
  /** Platform `flagsmith`: what the deployment sets that decides how it stores a request. */
  flagsmith?: { featureValueLimit: number } | undefined;
}

export interface PlatformPlugin {
  readonly name: string;
  /** What is wrong with these settings for this platform (empty when nothing); `path` is under `platform`. */
  check(settings: Readonly<PlatformSettings>): Array<{ path: string; message: string }>;
  /** Settings with paths made absolute (relative ones are under the data directory). */
  resolve(settings: PlatformSettings, inDataDir: (path: string) => string): PlatformSettings;
  /** Prepares the platform at start: the walkthrough's flags on a first run, for flagd the temp files a killed writer left removed; returns a line for the log when it did something. */
  seed?(settings: Readonly<PlatformSettings>): string | undefined;
  create(settings: Readonly<PlatformSettings>): Promise<Platform>;
}
