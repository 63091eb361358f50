import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { firstFailure, type ChainFailure, type CoverageSummary, type UpstreamSummary } from '../../src/audit/index.js';

const arbChainFailure: fc.Arbitrary<ChainFailure> = fc.record({
  code: fc.constant('AUDIT_CHAIN_BROKEN' as const),
  seq: fc.nat(100),
  kind: fc.constantFrom('modified', 'deleted', 'inserted', 'reordered', 'wrong_chain', 'truncated', 'bad_signature', 'unknown_key' as const),
  message: fc.string(),
});
const arbUpstream: fc.Arbitrary<UpstreamSummary> = fc.record({
  ok: fc.boolean(),
  sink: fc.constantFrom('jsonl', 'central'),
  kind: fc.option(fc.constantFrom('cut', 'forked', 'unreachable'), { nil: undefined }),
  message: fc.string(),
  upstream: fc.option(fc.record({ seq: fc.nat(100) }), { nil: null }),
});
const codes = ['COVERAGE_TOKEN_LATE', 'COVERAGE_TOKEN_EARLY', 'COVERAGE_HASH_MISMATCH', 'COVERAGE_ENTRY_MISSING', 'TSA_IMPRINT_MISMATCH', 'TSA_CHAIN_UNTRUSTED'];
const arbCoverage: fc.Arbitrary<CoverageSummary> = fc
  .record({
    failures: fc.array(fc.record({ code: fc.constantFrom(...codes), message: fc.string(), coversSeq: fc.nat(100), seq: fc.option(fc.nat(100), { nil: undefined }) }), { maxLength: 3 }),
    uncoveredFrom: fc.option(fc.nat(100), { nil: undefined }),
  })
  .map((c) => ({ ...c, ok: c.failures.length === 0 && c.uncoveredFrom === undefined }));

describe('firstFailure', () => {
  propTest.prop([fc.option(arbChainFailure, { nil: undefined }), fc.nat(100), fc.array(arbUpstream, { maxLength: 3 }), fc.option(arbCoverage, { nil: null })])(
    'names a failure kind exactly when some part failed: never ok:false with no failure',
    (chainFailure, head, upstream, timestamps) => {
      const failure = firstFailure({ chain: { head: { seq: head }, ...(chainFailure ? { failure: chainFailure } : {}) }, upstream, timestamps });
      const failed = chainFailure !== undefined || upstream.some((u) => !u.ok) || (timestamps !== null && !timestamps.ok);
      expect(failure !== undefined).toBe(failed);
      if (failure) expect(failure.kind).toEqual(expect.any(String));
    },
  );

  it.each([
    { name: 'a cut upstream', upstream: [{ ok: false, sink: 'jsonl', kind: 'cut', message: 'below', upstream: { seq: 9 } }], timestamps: null, want: { kind: 'truncated', seq: 6 } },
    { name: 'a forked upstream', upstream: [{ ok: false, sink: 'jsonl', kind: 'forked', message: 'differs', upstream: { seq: 4 } }], timestamps: null, want: { kind: 'modified', seq: 4 } },
    { name: 'an uncovered tail', upstream: [], timestamps: { ok: false, uncoveredFrom: 5, failures: [] }, want: { kind: 'uncovered', seq: 5 } },
    { name: 'a late token', upstream: [], timestamps: { ok: false, failures: [{ code: 'COVERAGE_TOKEN_LATE', message: 'late', coversSeq: 5, seq: 3 }] }, want: { kind: 'restamped', seq: 3, code: 'TIMESTAMP_INVALID' } },
    { name: 'an early token', upstream: [], timestamps: { ok: false, failures: [{ code: 'COVERAGE_TOKEN_EARLY', message: 'early', coversSeq: 5 }] }, want: { kind: 'predated', seq: 5 } },
    { name: 'a token past the head', upstream: [], timestamps: { ok: false, failures: [{ code: 'COVERAGE_ENTRY_MISSING', message: 'gone', coversSeq: 8 }] }, want: { kind: 'truncated', code: 'AUDIT_CHAIN_BROKEN' } },
    { name: 'a token that does not verify', upstream: [], timestamps: { ok: false, failures: [{ code: 'TSA_IMPRINT_MISMATCH', message: 'x', coversSeq: 2 }] }, want: { kind: 'bad_timestamp', seq: 2 } },
  ])('names $name', ({ upstream, timestamps, want }) => {
    expect(firstFailure({ chain: { head: { seq: 5 } }, upstream, timestamps })).toMatchObject(want);
  });
});
