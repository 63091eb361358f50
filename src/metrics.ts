import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric name flaggate exports, in one place. */
export const metricNames = {
  decisions: 'flaggate_decisions_total',
  decisionSeconds: 'flaggate_decision_duration_seconds',
  requestSeconds: 'flaggate_request_duration_seconds',
  errors: 'flaggate_errors_total',
  ledgerEntries: 'flaggate_ledger_entries_total',
  replicateFailures: 'flaggate_replicate_failures_total',
} as const;

export interface Metrics {
  registry: Registry;
  /** Decisions by result (allow | deny | error), action and environment. */
  decisions: Counter<'result' | 'action' | 'environment'>;
  /** Policy evaluation time alone. */
  decisionSeconds: Histogram<'result'>;
  /** End to end through the proxy port, by what happened. */
  requestSeconds: Histogram<'outcome'>;
  /** Refusals and failures, labelled by error code (the code is the metric label). */
  errors: Counter<'code'>;
  ledgerEntries: Counter<'type'>;
  replicateFailures: Counter<'sink'>;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export function createMetrics(options: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'flaggate_' });
  return {
    registry,
    decisions: new Counter({
      name: metricNames.decisions,
      help: 'Policy decisions on flag changes and reads, by result, action and environment.',
      labelNames: ['result', 'action', 'environment'],
      registers: [registry],
    }),
    decisionSeconds: new Histogram({
      name: metricNames.decisionSeconds,
      help: 'Time to evaluate the policy for one request.',
      labelNames: ['result'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    requestSeconds: new Histogram({
      name: metricNames.requestSeconds,
      help: 'Time from receiving a proxied request to replying, by outcome.',
      labelNames: ['outcome'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
    errors: new Counter({
      name: metricNames.errors,
      help: 'Requests refused or failed, by error code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    ledgerEntries: new Counter({
      name: metricNames.ledgerEntries,
      help: 'Audit entries appended to the local ledger, by type.',
      labelNames: ['type'],
      registers: [registry],
    }),
    replicateFailures: new Counter({
      name: metricNames.replicateFailures,
      help: 'Failed deliveries to an upstream sink.',
      labelNames: ['sink'],
      registers: [registry],
    }),
  };
}
