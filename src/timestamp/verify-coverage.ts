import { isIsoUtc } from '../clock.js';
import { FlaggateError } from '../errors.js';
import { TimestampError } from './errors.js';
import { verifyTimestampToken } from './token.js';
import type { VerifyTokenOptions } from './token.js';

/** The trust a coverage check runs under: anchors, intermediates, policies. */
export type CoverageTrust = Omit<VerifyTokenOptions, 'digest' | 'nonce'>;

export interface CoverageFailure {
  tokenId?: number;
  coversSeq: number;
  /** The entry at fault, when it is not the one the token names (a time check). */
  seq?: number;
  /**
   * A `TSA_*` reason, `COVERAGE_ENTRY_MISSING` / `COVERAGE_HASH_MISMATCH`, or a time check:
   * `COVERAGE_TOKEN_LATE` (made more than the bound after an entry it first covers, or after the
   * package that holds it) / `COVERAGE_TOKEN_EARLY` (made before an entry it covers) /
   * `COVERAGE_ENTRY_TIME_INVALID` (an entry it covers records no time that reads as one).
   */
  code: string;
  message: string;
}

/**
 * Binds each token to the time of the entries it vouches for. The first valid token covering entry
 * e must have been made within [time(e) - skew, time(e) + maxDelay]: a history rewritten and stamped
 * again later, or stamped once over its newest entry, fails even with fresh tokens from a trusted TSA.
 */
export interface CoverageTimes {
  /** The `timestamp_utc` the entry at `seq` records (undefined outside the rows checked). */
  entryTime(seq: number): string | undefined;
  maxDelaySeconds: number;
  skewSeconds: number;
  /** Entries before this seq are not checked (an export starts after its anchor). */
  fromSeq?: number;
  /** No token may be made after this time (plus skew): an export's creation. */
  notAfter?: string;
}

export interface CoverageReport {
  ok: boolean;
  tokensChecked: number;
  /** The highest seq covered by a token that verified (0 when none). */
  coveredThrough: number;
  /** The first entry no valid token covers, when any is left. */
  uncoveredFrom?: number;
  failures: CoverageFailure[];
}

/**
 * Checks every token fully against the entry it claims to cover (imprint = that entry's hash), that
 * the newest verified token reaches the head and, given `times`, that each entry was first stamped
 * within the bound of the time it records. Trusts only what it is handed.
 */
export function verifyCoverage(o: {
  tokens: { id?: number; coversSeq: number; coversHash: string; token: Buffer }[];
  rowHashAt: (seq: number) => string | undefined;
  headSeq: number;
  trust: CoverageTrust;
  times?: CoverageTimes;
}): CoverageReport {
  const failures: CoverageFailure[] = [];
  let coveredThrough = 0;
  let timedThrough = (o.times?.fromSeq ?? 1) - 1;
  for (const t of [...o.tokens].sort((a, b) => a.coversSeq - b.coversSeq)) {
    const base = { ...(t.id !== undefined ? { tokenId: t.id } : {}), coversSeq: t.coversSeq };
    const rowHash = o.rowHashAt(t.coversSeq);
    if (rowHash === undefined) {
      failures.push({ ...base, code: 'COVERAGE_ENTRY_MISSING', message: `no entry at seq ${t.coversSeq}` });
      continue;
    }
    if (rowHash !== t.coversHash) {
      failures.push({ ...base, code: 'COVERAGE_HASH_MISMATCH', message: `token row names hash ${t.coversHash}, entry has ${rowHash}` });
    }
    try {
      const { tstInfo } = verifyTimestampToken(t.token, { ...o.trust, digest: rowHash });
      coveredThrough = Math.max(coveredThrough, t.coversSeq);
      if (o.times && t.coversSeq > timedThrough) {
        const late = checkTokenTime(tstInfo.genTime, timedThrough + 1, t.coversSeq, o.times);
        if (late) failures.push({ ...base, ...late });
        timedThrough = t.coversSeq;
      }
    } catch (err) {
      if (!(err instanceof FlaggateError)) throw err;
      failures.push({ ...base, code: err instanceof TimestampError ? err.reason : err.code, message: err.message });
    }
  }
  const uncoveredFrom = coveredThrough < o.headSeq ? coveredThrough + 1 : undefined;
  return {
    ok: failures.length === 0 && uncoveredFrom === undefined,
    tokensChecked: o.tokens.length,
    coveredThrough,
    ...(uncoveredFrom !== undefined ? { uncoveredFrom } : {}),
    failures,
  };
}

/** The first entry in [from, to] whose time the token's genTime (from the signed TSTInfo) breaks. */
function checkTokenTime(genTime: string, from: number, to: number, times: CoverageTimes): Omit<CoverageFailure, 'coversSeq'> | undefined {
  const made = Date.parse(genTime);
  const skew = times.skewSeconds * 1000;
  if (times.notAfter !== undefined && made > Date.parse(times.notAfter) + skew) {
    return { seq: to, code: 'COVERAGE_TOKEN_LATE', message: `the token over seq ${to} was made at ${genTime}, after ${times.notAfter}` };
  }
  for (let seq = from; seq <= to; seq += 1) {
    const recorded = times.entryTime(seq);
    if (recorded === undefined) continue;
    // A time that does not read as one would pass both bounds below (NaN compares false).
    if (!isIsoUtc(recorded)) {
      return { seq, code: 'COVERAGE_ENTRY_TIME_INVALID', message: `entry ${seq} records ${JSON.stringify(recorded.slice(0, 64))} as its time, which is not a UTC time to the millisecond` };
    }
    const at = Date.parse(recorded);
    if (made < at - skew) {
      return { seq, code: 'COVERAGE_TOKEN_EARLY', message: `the token over seq ${to} was made at ${genTime}, before entry ${seq} (${recorded})` };
    }
    if (made > at + times.maxDelaySeconds * 1000) {
      return {
        seq,
        code: 'COVERAGE_TOKEN_LATE',
        message: `entry ${seq} (${recorded}) was first timestamped at ${genTime}, more than ${times.maxDelaySeconds} s later: its history was stamped again, or coverage lagged past the bound`,
      };
    }
  }
  return undefined;
}
