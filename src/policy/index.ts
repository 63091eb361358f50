/** The decide stage: OPA bundles compiled to WASM, evaluated fail-closed. */
export { createPolicyEngine } from './engine.js';
export type { LoadedBundle, PolicyEngine, PolicyEngineOptions } from './engine.js';
export type { Decision, PolicyInput, PolicyRevision } from './decision.js';
export { policyInput } from './policy-input.js';
export { watchPolicyBundle } from './watch.js';
export { loadBundleTrust } from './bundle-trust.js';
export type { BundleTrust, VerificationKey } from './bundle-trust.js';
export type { BundleSigner } from './bundle-signature.js';
export { compareDecisions, type DisagreementKind } from './compare-decisions.js';
export { withShadowPolicy, type ShadowControls, type ShadowPause, type ShadowReport, type ShadowDisagreement } from './shadow.js';
export { readPolicyBundle } from './bundle.js';
export { readBundleBytes } from './bundle.js';
export { bundleContentSha256, bundlePolicySha256 } from './bundle.js';
export { archiveBundle, listArchivedBundles, readArchivedBundle, BUNDLE_ARCHIVE_DIR } from './bundle-archive.js';
export { readLastGood, writeLastGood, type LastGood } from './last-good.js';
export { openReplacedBundles, type ReplacedBundles } from './replaced-bundles.js';
export { displayUrl, fetchBundle, pollBundleService, pollDelayMs, type BundleServiceOptions, type ServedBundle } from './bundle-service.js';
