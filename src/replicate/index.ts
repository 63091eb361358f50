import type { SinkConfig } from '../config/schema.js';
import type { Sink } from './sink.js';
import { createJsonlSink } from './sinks/jsonl.js';

export { createReplicator, type Replicator, type ReplicationSource } from './follower.js';
export type { Sink } from './sink.js';
export { createJsonlSink } from './sinks/jsonl.js';

/** Builds the configured sinks. */
export function createSinks(configs: readonly SinkConfig[]): Sink[] {
  return configs.map((c) => {
    switch (c.type) {
      case 'jsonl':
        return createJsonlSink({ name: c.name, path: c.path, required: c.required });
    }
    throw new TypeError(`unknown sink type`);
  });
}
