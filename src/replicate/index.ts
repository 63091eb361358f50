import type { SinkConfig } from '../config/index.js';
import type { Sink } from './sink.js';
import { createHttpSink } from './sinks/http.js';
import { createJsonlSink } from './sinks/jsonl.js';
import { createPostgresSink } from './sinks/postgres.js';
import { createOpenSearchSink } from './sinks/opensearch.js';

export { createReplicator, type Replicator, type ReplicationSource, type ReplicatorOptions } from './follower.js';
export type { Sink, UpstreamWriter } from './sink.js';
export { createJsonlSink } from './sinks/jsonl.js';
export { createHttpSink, signBody, type HttpSinkOptions } from './sinks/http.js';
export { createOpenSearchSink, documentId, type OpenSearchSinkOptions } from './sinks/opensearch.js';
export { indexTemplate } from './sinks/opensearch-template.js';
export { createPostgresSink, flushEveryCommit, openPostgresReader, type PostgresSink, type PostgresLedgerReader } from './sinks/postgres.js';
export { migratePostgres } from './sinks/postgres-schema.js';
export { assertWriterLogin, checkWriterLogin, inspectWriterLogin, type WriterLogin } from './sinks/postgres-login.js';
export { createUpstreamWatch, type UpstreamWatch } from './upstream-watch.js';
export { compareWithUpstream, namedUpstreamsMustAnswer, upstreamTrust, type UpstreamCheck, type UpstreamSource } from './upstream-check.js';
export { createUpstreamGuard, type UpstreamGuard } from './upstream-guard.js';
export { readJsonlHeads } from './sinks/jsonl-tail.js';

/** Builds the configured sinks; in production mode a PostgreSQL sink refuses a privileged login. */
export function createSinks(configs: readonly SinkConfig[], options: { production?: boolean } = {}): Sink[] {
  return configs.map((c): Sink => {
    switch (c.type) {
      case 'jsonl':
        return createJsonlSink({ name: c.name, path: c.path, required: c.required });
      case 'postgres':
        return createPostgresSink({ name: c.name, url: c.url, required: c.required, migrate: c.migrate, production: options.production ?? false });
      case 'http':
        return createHttpSink({
          name: c.name,
          required: c.required,
          url: c.url,
          format: c.format,
          ...(c.token ? { token: c.token } : {}),
          ...(c.secret ? { secret: c.secret } : {}),
          ...(c.index ? { index: c.index } : {}),
          sourcetype: c.sourcetype,
          timeoutMs: c.timeoutMs,
          maxAttempts: c.maxAttempts,
        });
      case 'opensearch':
        return createOpenSearchSink({
          name: c.name,
          required: c.required,
          url: c.url,
          index: c.index,
          ...(c.username ? { username: c.username } : {}),
          ...(c.password ? { password: c.password } : {}),
          ...(c.apiKey ? { apiKey: c.apiKey } : {}),
          installTemplate: c.installTemplate,
          timeoutMs: c.timeoutMs,
          maxAttempts: c.maxAttempts,
        });
    }
  });
}
export { createCheckpointPublisher, type CheckpointPublisher } from './checkpoints.js';
export { inspectRole } from './sinks/postgres-login.js';
export { chainWritersSql, changeRequestIdSql, refuseEditsSql, rowPolicySql, runMigration, writerRoleSql } from './sinks/postgres-schema.js';
export { verifyPostgresLedger } from './verify-postgres.js';
export { checkPostgresLogins } from './check-logins.js';
export { findStreamBreak, type StreamBreak } from './sinks/jsonl-walk.js';
