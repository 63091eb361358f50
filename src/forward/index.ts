export type { Forward } from './forward.js';
export { createHttpForwarder } from './http-forward.js';
export { createFlagdFileForwarder } from './flagd-file.js';
