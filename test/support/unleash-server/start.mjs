// Runs a real Unleash server for tests, in its own Node process (test/support/unleash.ts spawns it).
// Input: FLAGGATE_UNLEASH_DATABASE_URL, FLAGGATE_UNLEASH_PORT, FLAGGATE_UNLEASH_ADMIN_TOKEN and
// FLAGGATE_UNLEASH_PARENT_PID in the environment. It exits when its parent goes away, so no server
// outlives the test process, and stops cleanly on SIGTERM.
import { start } from 'unleash-server';

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`start.mjs: ${name} is required`);
    process.exit(2);
  }
  return v;
}

const databaseUrl = required('FLAGGATE_UNLEASH_DATABASE_URL');
const port = Number.parseInt(required('FLAGGATE_UNLEASH_PORT'), 10);
const adminToken = required('FLAGGATE_UNLEASH_ADMIN_TOKEN');
const parentPid = Number.parseInt(required('FLAGGATE_UNLEASH_PARENT_PID'), 10);

const quietLogger = (name) => {
  const log = (level) => (...args) => {
    // Warnings too: Unleash logs a change's event it failed to store as a warning and carries on.
    if (level === 'warn' || level === 'error' || level === 'fatal') console.error(`[unleash ${level}] ${name}:`, ...args);
  };
  return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error'), fatal: log('fatal') };
};

const unleash = await start({
  databaseUrl,
  db: { ssl: false, pool: { min: 0, max: 10 } },
  server: { port, host: '127.0.0.1', gracefulShutdownEnable: false, enableRequestLogger: false },
  authentication: {
    type: 'open-source',
    enableApiToken: true,
    createAdminUser: false,
    initApiTokens: [
      { secret: adminToken, tokenName: 'flaggate-test-admin', type: 'admin', environment: '*', projects: ['*'] },
      // A second admin, for tests of changes made around flaggate by someone else (Unleash 8 creates admin tokens only at start).
      ...(process.env.FLAGGATE_UNLEASH_OTHER_ADMIN_TOKEN
        ? [{ secret: process.env.FLAGGATE_UNLEASH_OTHER_ADMIN_TOKEN, tokenName: 'someone-else', type: 'admin', environment: '*', projects: ['*'] }]
        : []),
    ],
  },
  telemetry: false,
  versionCheck: { enable: false },
  getLogger: quietLogger,
  disableScheduler: true,
});

let stopping = false;
async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  try {
    await unleash.stop();
  } finally {
    process.exit(code);
  }
}
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));

// The parent may be SIGKILLed: poll it and leave with it.
setInterval(() => {
  try {
    process.kill(parentPid, 0);
  } catch {
    void shutdown(0);
  }
}, 1000).unref();

console.log(`unleash listening on 127.0.0.1:${port}`);
