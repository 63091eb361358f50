import type { ChainFailure, FailureKind } from './verify.js';

// The verify defaults live in the shared kernel: the CLI names them in its options without loading
// the audit stage.
export { DEFAULT_CLOCK_SKEW_SECONDS, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS } from '../verify-defaults.js';

/** A timestamp coverage report as the timestamp stage gives it (structural: audit stays free of that stage). */
export interface CoverageSummary {
  ok: boolean;
  uncoveredFrom?: number;
  failures: Array<{ code: string; message: string; coversSeq: number; seq?: number }>;
}

/** An upstream comparison as the replicate stage gives it. */
export interface UpstreamSummary {
  ok: boolean;
  sink: string;
  kind?: string;
  /** The first seq the failure concerns, where the copy was read entry by entry. */
  at?: number;
  message: string;
  upstream: { seq: number } | null;
}

/** The kind a coverage failure code stands for; `headSeq` is the last row checked. */
export function coverageFailureKind(code: string, coversSeq: number, headSeq: number): FailureKind {
  switch (code) {
    case 'COVERAGE_TOKEN_LATE':
      return 'restamped';
    case 'COVERAGE_TOKEN_EARLY':
      return 'predated';
    case 'COVERAGE_HASH_MISMATCH':
    case 'COVERAGE_ENTRY_TIME_INVALID':
      return 'modified';
    case 'COVERAGE_ENTRY_MISSING':
      // A token vouches for an entry past the end of the chain: its tail was cut.
      return coversSeq > headSeq ? 'truncated' : 'bad_timestamp';
    default:
      return 'bad_timestamp';
  }
}

/**
 * The one failure a verification reports, chain before upstream before timestamps, so that a report
 * is never `ok: false` without naming what failed (undefined means every part held).
 */
export function firstFailure(parts: {
  chain: { failure?: ChainFailure; head: { seq: number } };
  upstream?: readonly UpstreamSummary[];
  timestamps?: CoverageSummary | null;
}): ChainFailure | undefined {
  if (parts.chain.failure) return parts.chain.failure;
  const headSeq = parts.chain.head.seq;
  const apart = parts.upstream?.find((u) => !u.ok);
  if (apart) {
    const cut = apart.kind === 'cut';
    return {
      code: 'AUDIT_CHAIN_BROKEN',
      seq: cut ? headSeq + 1 : (apart.at ?? apart.upstream?.seq ?? headSeq),
      kind: cut ? 'truncated' : apart.kind === 'unchecked' ? 'unchecked' : apart.kind === 'gap' ? 'deleted' : 'modified',
      message: `upstream "${apart.sink}": ${apart.message}`,
    };
  }
  const ts = parts.timestamps;
  if (!ts || ts.ok) return undefined;
  const first = ts.failures[0];
  if (first) {
    return {
      code: first.code === 'COVERAGE_ENTRY_MISSING' && first.coversSeq > headSeq ? 'AUDIT_CHAIN_BROKEN' : 'TIMESTAMP_INVALID',
      seq: first.seq ?? first.coversSeq,
      kind: coverageFailureKind(first.code, first.coversSeq, headSeq),
      message: `${first.code}: ${first.message}`,
    };
  }
  const from = ts.uncoveredFrom ?? headSeq;
  return { code: 'TIMESTAMP_INVALID', seq: from, kind: 'uncovered', message: `entries from seq ${from} are not covered by a timestamp token` };
}
