/**
 * How long after an entry's recorded time the first token over it may be made (`verify.maxTimestampDelaySeconds`):
 * tokens are taken within a second in `sync` mode and within `timestamp.asyncBoundSeconds` (30 s) in
 * `async` mode, so an hour leaves room for a TSA outage or a restart while keeping the window in which
 * someone holding the keys could rewrite and stamp again short.
 */
export const DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS = 3600;
/** Clock difference allowed between the ledger and the TSA (`verify.clockSkewSeconds`). */
export const DEFAULT_CLOCK_SKEW_SECONDS = 300;
