import { loadConfig } from '../../src/config/index.js';
import { mintDevToken } from '../../src/identify/index.js';
import { createLogger } from '../../src/log.js';
import { startFlaggate, type Flaggate } from '../../src/main.js';
import { systemClock } from '../../src/clock.js';
import { makeTempDir } from './temp-dir.js';

export interface TestFlaggate extends Flaggate {
  dataDir: string;
  /** A development token for `sub` with `roles`. */
  token(sub: string, ...roles: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Starts flaggate on loopback port 0 in a temp data dir, with config overrides (dotted keys). */
export async function startTestFlaggate(overrides: Record<string, unknown> = {}, env: Record<string, string> = {}): Promise<TestFlaggate> {
  const tmp = makeTempDir('flaggate-e2e-');
  // Drift checks only on demand, so no test but the drift tests sees drift entries appear on a timer.
  const config = loadConfig({ env, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, 'drift.intervalSeconds': 0, ...overrides } });
  const app = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });
  return {
    ...app,
    dataDir: tmp.dir,
    token: (sub, ...roles) => mintDevToken({ dataDir: tmp.dir, sub, roles, clock: systemClock }),
    async stop() {
      await app.close();
      tmp.cleanup();
    },
  };
}
