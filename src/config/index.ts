export { loadConfig } from './load.js';
export type { Config, PlatformRoute, SinkConfig } from './schema.js';
export { bundleSignatureAlgorithms, isLoopback } from './schema.js';
