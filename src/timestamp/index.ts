/**
 * RFC 3161 trusted timestamps: the record stage's proof of time.
 *
 * - `createEmbeddedTsa({ dataDir, clock, policyOid?, supplied? })`: the default TSA (EC P-256), for
 *   `POST /v1/tsa` (`respond`, DER in and out) and `GET /v1/tsa/certs` (`certificateChainPem`).
 * - `createTsaClient({ urls, timeoutMs, trustAnchorsPem, ... })`: external TSAs with failover; every
 *   reply verified before use; `TIMESTAMP_UNAVAILABLE` (503) with one reason per URL otherwise.
 * - `openTokenStore(ledgerPath)` + `createCoverage({ stamp, store })`: `cover(seq, hash)` after an
 *   entry commits; concurrent calls share one token over the newest hash.
 * - `verifyCoverage({ tokens, rowHashAt, headSeq, trust })`: for `verify` and offline exports.
 * - `verifyTokenFile` / `requestToken`: the `flaggate tsa verify|request` commands.
 *
 * Token failures throw `TimestampError` (code `TIMESTAMP_INVALID`, 502) whose `reason` (also
 * `details.reason`) is one of `TimestampReason`.
 */
export { TimestampError, type TimestampReason } from './errors.js';
export { buildTimeStampReq, parseTimeStampReq, MAX_REQUEST_BYTES, type TimeStampReq, type HashName } from './request.js';
export { buildTimeStampResp, parseTimeStampResp, type PKIStatusInfo, type FailInfo } from './response.js';
export { verifyTimestampToken, type VerifyTokenOptions, type VerifiedToken } from './token.js';
export type { TSTInfo, Accuracy } from './tst-info.js';
export { createEmbeddedTsa, DEFAULT_TSA_POLICY, type EmbeddedTsa, type SuppliedTsaKey } from './embedded-tsa.js';
export { createTsaClient, type TsaClient, type TsaClientOptions, type TsaEndpoint, type TsaAttempt } from './tsa-client.js';
export { openTokenStore, type TokenStore, type StoredToken } from './token-store.js';
export { createCoverage, type Coverage, type StampFn } from './coverage.js';
export {
  verifyCoverage,
  type CoverageReport,
  type CoverageFailure,
  type CoverageTimes,
  type CoverageTrust,
} from './verify-coverage.js';
export { verifyTokenFile, requestToken } from './tsa-cli.js';

/** Media types of the RFC 3161 HTTP transport (RFC 3161 §3.4). */
export const TIMESTAMP_QUERY_TYPE = 'application/timestamp-query';
export const TIMESTAMP_REPLY_TYPE = 'application/timestamp-reply';
export { createTimestamper, type Timestamper } from './timestamper.js';
export { rotateEmbeddedTsa, type TsaRotation } from './rotate-tsa.js';
