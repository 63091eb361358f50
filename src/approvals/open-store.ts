import type { Config, SinkConfig } from '../config/index.js';
import { openPostgresChangeStore } from './postgres-store.js';
import { openSqliteChangeStore } from './sqlite-store.js';
import type { ChangeStore } from './store.js';

/** Which store holds change requests: `approvals.store`, else PostgreSQL when a PostgreSQL sink is configured. */
export function changeStoreKind(config: Readonly<Config>): 'local' | 'postgres' {
  return config.approvals.store ?? (config.replicate.sinks.some((s) => s.type === 'postgres') ? 'postgres' : 'local');
}

/**
 * Opens the configured change store: the local ledger file for one sidecar, or the first PostgreSQL
 * sink's database so every replica of a fleet sees (and can approve) the same change requests.
 */
export function openChangeStoreFor(config: Readonly<Config>): ChangeStore {
  if (changeStoreKind(config) === 'local') return openSqliteChangeStore(config.audit.file);
  const sink = config.replicate.sinks.find((s): s is Extract<SinkConfig, { type: 'postgres' }> => s.type === 'postgres');
  // The schema refuses approvals.store=postgres without a postgres sink.
  if (!sink) throw new TypeError('approvals.store is postgres but no postgres sink is configured');
  return openPostgresChangeStore({ url: sink.url, chainId: config.audit.chainId, peerChains: config.approvals.peerChains, migrate: sink.migrate });
}
