import { isLoopback, type Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { checkPostgresLogins } from '../replicate/index.js';

/**
 * Before anything is served: each PostgreSQL sink's login (a sidecar that could write another's
 * chain does not start), then a warning for each setting that leaves evidence or data weaker than
 * an operator may think, which start-up allows because a deployment can have reasons for it.
 */
export async function checkStartup(config: Readonly<Config>, logger: Logger): Promise<void> {
  await checkPostgresLogins(config, logger);
  for (const warning of weakSettings(config)) logger.warn(warning.message, { setting: warning.setting });
}

/** The settings of `config` worth a warning at start-up, each with the key that changes it. */
export function weakSettings(config: Readonly<Config>): Array<{ setting: string; message: string }> {
  const weak: Array<{ setting: string; message: string }> = [];
  if (!config.metrics.bearerToken && !isLoopback(config.host)) {
    weak.push({ setting: 'metrics.bearerToken', message: `/metrics answers anyone who reaches the control port on ${config.host} (flag keys, environments, actors' refusal counts): set metrics.bearerToken (FLAGGATE_METRICS_TOKEN)` });
  }
  if (config.mode === 'production' && config.timestamp.tsaUrls.length === 0) {
    weak.push({ setting: 'timestamp.tsaUrls', message: 'timestamps come from the embedded TSA, whose key is on the machine whose records it vouches for: name external RFC 3161 TSAs (timestamp.tsaUrls with timestamp.trustAnchors)' });
  }
  return weak;
}
