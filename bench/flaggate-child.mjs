/**
 * Starts flaggate in its own process for the benchmark, from the built JavaScript (`npm run build`)
 * as it runs in production, so the load generator does not share its event loop. argv[2] is a JSON
 * object of config overrides (dotted keys); of the environment only FLAGGATE_UPSTREAM_POSTGRES_URL
 * is read (it adds a required PostgreSQL sink); the data dir is a fresh temp dir, removed on exit.
 * Prints one JSON line: the proxy and control URLs and development tokens. SIGTERM closes flaggate
 * and exits.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../dist/config/index.js';
import { systemClock } from '../dist/clock.js';
import { mintDevToken } from '../dist/identify/index.js';
import { createLogger } from '../dist/log.js';
import { startFlaggate } from '../dist/main.js';

const overrides = JSON.parse(process.argv[2] ?? '{}');
const dataDir = mkdtempSync(join(tmpdir(), 'flaggate-bench-'));
const upstream = process.env.FLAGGATE_UPSTREAM_POSTGRES_URL;
const config = loadConfig({ env: upstream ? { FLAGGATE_UPSTREAM_POSTGRES_URL: upstream } : {}, overrides: { dataDir, proxyPort: 0, controlPort: 0, ...overrides } });
const app = await startFlaggate(config, { logger: createLogger({ level: 'silent' }) });

const token = (sub, role) => mintDevToken({ dataDir, sub, roles: [role], clock: systemClock });
const [releaseEngineer, qa] = await Promise.all([token('riley', 'release_engineer'), token('quinn', 'qa')]);

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  app
    .close()
    .finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    })
    .catch(() => undefined);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

process.stdout.write(`${JSON.stringify({ proxyUrl: app.proxyUrl, controlUrl: app.controlUrl, dataDir, tokens: { releaseEngineer, qa } })}\n`);
