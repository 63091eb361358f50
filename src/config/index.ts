export { loadConfig } from './load.js';
export type { Config, SinkConfig } from './schema.js';
export { bundleSignatureAlgorithms } from './schema.js';
