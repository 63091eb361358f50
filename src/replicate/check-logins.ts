import type { Config, SinkConfig } from '../config/index.js';
import { FlaggateError } from '../errors.js';
import type { Logger } from '../log.js';
import { checkWriterLogin } from './sinks/postgres-login.js';

/**
 * Checks each PostgreSQL sink's login before the sidecar starts: a login refused for this chain
 * (privileged in production, unregistered, schema never migrated) stops start-up with its code. An
 * unreachable database does not: the sink checks again before its first write and refuses it then.
 */
export async function checkPostgresLogins(config: Readonly<Config>, logger: Logger): Promise<void> {
  const sinks = config.replicate.sinks.filter((s): s is Extract<SinkConfig, { type: 'postgres' }> => s.type === 'postgres');
  for (const sink of sinks) {
    if (sink.migrate) continue; // development: the sink creates the schema first, then checks
    try {
      const login = await checkWriterLogin(sink.url, config.audit.chainId, config.mode === 'production');
      if (login.privileged.length > 0) {
        logger.warn('PostgreSQL login can write any chain: development only, refused in production', { sink: sink.name, role: login.role, privileged: login.privileged });
      }
    } catch (err) {
      if (err instanceof FlaggateError) throw err;
      logger.warn('PostgreSQL login not checked yet: upstream not reachable', { sink: sink.name, error: String(err) });
    }
  }
}
