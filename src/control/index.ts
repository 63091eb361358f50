export { createControlApp, type ControlDeps } from './control-server.js';
