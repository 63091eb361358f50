import { FlaggateError } from '../errors.js';
import { TimestampError } from './errors.js';
import { verifyTimestampToken } from './token.js';
import type { VerifyTokenOptions } from './token.js';

/** The trust a coverage check runs under: anchors, intermediates, policies. */
export type CoverageTrust = Omit<VerifyTokenOptions, 'digest' | 'nonce'>;

export interface CoverageFailure {
  tokenId?: number;
  coversSeq: number;
  /** A `TSA_*` reason, or `COVERAGE_ENTRY_MISSING` / `COVERAGE_HASH_MISMATCH`. */
  code: string;
  message: string;
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
 * Checks every token fully against the entry it claims to cover (imprint = that entry's hash), and
 * that the newest verified token reaches the head. Trusts only what it is handed.
 */
export function verifyCoverage(o: {
  tokens: { id?: number; coversSeq: number; coversHash: string; token: Buffer }[];
  rowHashAt: (seq: number) => string | undefined;
  headSeq: number;
  trust: CoverageTrust;
}): CoverageReport {
  const failures: CoverageFailure[] = [];
  let coveredThrough = 0;
  for (const t of o.tokens) {
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
      verifyTimestampToken(t.token, { ...o.trust, digest: rowHash });
      coveredThrough = Math.max(coveredThrough, t.coversSeq);
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
