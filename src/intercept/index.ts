export { createProxyApp, send, type ProxyReply } from './proxy-server.js';
export { readChangeContext, type ChangeContext, type ContextSource } from './change-context.js';
export { withTokenContext, type ContextClaims } from './token-context.js';
export { pathOnly, type RawRequest } from './raw-request.js';
export { routeByPrefix } from './route-prefix.js';
export { createRefusalLimiter, type RefusalLimiter, type RefusalSummary, type RefusedActor } from './refusal-limiter.js';
