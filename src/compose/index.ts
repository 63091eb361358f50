/** The composition root's parts; src/main.ts puts them together in order. */
export { buildApprovals } from './approvals.js';
export { startDrift } from './drift.js';
export { openEvidence, type Evidence } from './evidence.js';
export { openPlatforms, type OpenedPlatform, type Platforms } from './platforms.js';
export { planProxies, type ProxyPlan } from './proxies.js';
export { readinessOf } from './readiness.js';
export { checkStartup, weakSettings } from './startup-checks.js';
export { recordRefusalSummaries } from './refusal-summaries.js';
export { listen, type Listening } from './servers.js';
export { sharedVerify, verifyLocal } from './verify-local.js';
export { openPolicyDelivery, type PolicyDelivery } from './policy-delivery.js';
