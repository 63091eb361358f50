/** The forward stage's HTTP client, used by HTTP platforms to send decided requests. */
export { createHttpForwarder } from './http-forward.js';
