/** The drift watcher's one door: changes made on a platform around flaggate, found and recorded. */
export { createDriftWatcher, type DriftWatcher, type DriftWatcherDeps, type DriftStatus } from './watcher.js';
export { driftProbeFor } from './probes/index.js';
export { driftRoutes } from './routes.js';
export type { DriftProbe } from './probe.js';
export { requestDrift, type DriftRequest } from './client.js';
