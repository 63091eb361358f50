/** The web console's only door: the router the control port mounts at `/console`. */
export { createConsole, type ConsoleControl, type ConsoleDeps } from './console-app.js';
