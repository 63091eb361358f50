import type { RawRequest } from '../intercept/raw-request.js';

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
  /** Read from the platform before the change; `null` when the flag does not exist yet. */
  previousState?: unknown;
  /** What the request asks for, normalized. */
  newState?: unknown;
  request: { method: string; path: string; bodySha256: string };
}

/** A read the adapter recognized; it passes through after a read check. */
export interface FlagRead {
  platform: string;
  action: 'flag.read';
  project?: string;
  flagKey?: string;
  environment?: string;
}

export type Classification =
  | { kind: 'read'; read: FlagRead }
  | { kind: 'write'; change: FlagChange }
  | { kind: 'unrecognized'; method: string; path: string; reason: string };

/** What the platform (or the file applier) answered. */
export interface PlatformResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
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
}

export type SettledAs = 'applied' | 'not_applied' | 'unknown';
