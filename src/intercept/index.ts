export { createProxyApp, send, type ProxyReply } from './proxy-server.js';
export { readChangeContext, type ChangeContext } from './change-context.js';
export { pathOnly, type RawRequest } from './raw-request.js';
export { createRefusalLimiter, type RefusalLimiter, type RefusalSummary, type RefusedActor } from './refusal-limiter.js';
