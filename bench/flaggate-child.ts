/**
 * Starts flaggate in its own process for the benchmark, so the load generator does not share its
 * event loop. argv[2] is a JSON object of config overrides (dotted keys); of the environment only
 * FLAGGATE_UPSTREAM_POSTGRES_URL is read (it adds a required PostgreSQL sink); the data dir is a fresh
 * temp dir, removed on exit. Prints one JSON line: the proxy and control URLs and development tokens.
 * SIGTERM closes flaggate and exits.
 */
import { loadConfig } from '../src/config/index.js';
import { systemClock } from '../src/clock.js';
import { mintDevToken } from '../src/identify/index.js';
import { createLogger } from '../src/log.js';
import { startFlaggate } from '../src/main.js';
import { makeTempDir } from '../test/support/temp-dir.js';

const overrides = JSON.parse(process.argv[2] ?? '{}') as Record<string, unknown>;
const tmp = makeTempDir('flaggate-bench-');
const upstream = process.env.FLAGGATE_UPSTREAM_POSTGRES_URL;
const config = loadConfig({ env: upstream ? { FLAGGATE_UPSTREAM_POSTGRES_URL: upstream } : {}, overrides: { dataDir: tmp.dir, proxyPort: 0, controlPort: 0, ...overrides } });
const app = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });

const token = (sub: string, role: string): Promise<string> => mintDevToken({ dataDir: tmp.dir, sub, roles: [role], clock: systemClock });
const [releaseEngineer, qa] = await Promise.all([token('riley', 'release_engineer'), token('quinn', 'qa')]);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  app
    .close()
    .finally(() => {
      tmp.cleanup();
      process.exit(0);
    })
    .catch(() => undefined);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

process.stdout.write(`${JSON.stringify({ proxyUrl: app.proxyUrl, controlUrl: app.controlUrl, dataDir: tmp.dir, tokens: { releaseEngineer, qa } })}\n`);
