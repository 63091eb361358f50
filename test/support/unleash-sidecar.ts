import { startPostgres, type PgCluster } from './postgres.js';
import { startTestFlaggate, type TestFlaggate } from './flaggate.js';
import { startUnleash, type UnleashServer } from './unleash.js';

/**
 * Real Unleash on a private PostgreSQL, and flaggate in front of it (with config `overrides`,
 * dotted keys); `stop` ends all three.
 */
export async function startUnleashSidecar(overrides: Record<string, unknown> = {}): Promise<{ pg: PgCluster; unleash: UnleashServer; app: TestFlaggate; stop(): Promise<void> }> {
  const pg = await startPostgres();
  const unleash = await startUnleash({ databaseUrl: pg.url() });
  const app = await startTestFlaggate({ 'platform.name': 'unleash', 'platform.targetUrl': unleash.url, 'platform.targetToken': unleash.adminToken, ...overrides });
  return {
    pg,
    unleash,
    app,
    async stop() {
      await app.stop();
      await unleash.stop();
      await pg.stop();
    },
  };
}

/** Every audit entry, read through the control port with an auditor's token. */
export async function auditEntries(app: TestFlaggate, auditorToken: string): Promise<Array<Record<string, unknown>>> {
  const res = await fetch(`${app.controlUrl}/v1/audit/entries?limit=1000`, { headers: { authorization: `Bearer ${auditorToken}` } });
  return ((await res.json()) as { entries: Array<Record<string, unknown>> }).entries;
}
