/** The web console's only door: the router the control port mounts at `/console`. */
export { createConsole, type ConsoleControl, type ConsoleDeps, type SendExport } from './console-app.js';
