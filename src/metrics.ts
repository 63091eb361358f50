import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric name flaggate exports, in one place. */
export const metricNames = {
  decisions: 'flaggate_decisions_total',
  decisionSeconds: 'flaggate_decision_duration_seconds',
  requestSeconds: 'flaggate_request_duration_seconds',
  errors: 'flaggate_errors_total',
  ledgerEntries: 'flaggate_ledger_entries_total',
  replicateFailures: 'flaggate_replicate_failures_total',
  replicateLagEntries: 'flaggate_replicate_lag_entries',
  replicateLagSeconds: 'flaggate_replicate_lag_seconds',
  replicateDeliverySeconds: 'flaggate_replicate_delivery_duration_seconds',
  timestampFailures: 'flaggate_timestamp_failures_total',
  policyReloads: 'flaggate_policy_reloads_total',
  policyBundleRefusals: 'flaggate_policy_bundle_refusals_total',
  policyShadowDisagreements: 'flaggate_policy_shadow_disagreements_total',
  policyShadowRefusals: 'flaggate_policy_shadow_bundle_refusals_total',
  policyShadowPaused: 'flaggate_policy_shadow_paused',
  uncoveredEntries: 'flaggate_timestamp_uncovered_entries',
  outOfHoursChanges: 'flaggate_out_of_hours_critical_changes_total',
  driftDetected: 'flaggate_drift_detected_total',
  breakGlass: 'flaggate_break_glass_total',
  breakGlassReviewsOverdue: 'flaggate_break_glass_reviews_overdue',
  attestations: 'flaggate_attestations_total',
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
  /** Entries in the ledger a sink has not acknowledged, and the age of the oldest; read on scrape. */
  replicateLagEntries: Gauge<'sink'>;
  replicateLagSeconds: Gauge<'sink'>;
  /** One delivery (a batch) to one sink, successful or not. */
  replicateDeliverySeconds: Histogram<'sink'>;
  /** Policy bundle hot reloads, by result (loaded | refused). */
  policyReloads: Counter<'result'>;
  /** Bundles refused on reload, by error code (unsigned, a digest mismatch, an unknown key …); the running one stays. */
  policyBundleRefusals: Counter<'code'>;
  /** Shadow decisions that differ from the active ones, by kind (newly_denied, newly_allowed, approvals_changed, shadow_error). */
  policyShadowDisagreements: Counter<'kind'>;
  /** Candidate bundles from a shadow URL that were refused, by error code; shadow evaluation pauses, the active policy is untouched. */
  policyShadowRefusals: Counter<'code'>;
  /** 1 while shadow evaluation is paused (the candidate served was refused, or none arrived yet), else 0. */
  policyShadowPaused: Gauge;
  /** Stamps that failed; an alert should fire on any increase. */
  timestampFailures: Counter;
  /** Entries no RFC 3161 token covers yet (0 when coverage is current). */
  uncoveredEntries: Gauge;
  /** Changes to critical flags outside business hours (allowed or not); an alert fires on any increase. */
  outOfHoursChanges: Counter<'environment'>;
  /** Changes found on a platform that no flaggate change explains (each is a `drift.detected` entry); an alert fires on any. */
  driftDetected: Counter<'platform' | 'source'>;
  /** Break-glass changes granted (the wait for approvals skipped), counted when the decision is recorded; an alert fires on any. */
  breakGlass: Counter<'platform' | 'environment'>;
  /** Break-glass changes whose retrospective review is past due; read on scrape; an alert fires while above 0. */
  breakGlassReviewsOverdue: Gauge;
  /** Scheduled attestation reports, by result (written | failed); an alert should fire on failed. */
  attestations: Counter<'result'>;
  /** Where the overdue gauge reads from at scrape time (the break-glass reviews set it). */
  setOverdueReviews(source: () => number): void;
  /** Where the lag gauges read from at scrape time (the replicator sets it). */
  setReplicationLag(source: () => ReplicationLag[]): void;
  /**
   * The `action` and `environment` labels for a change. Both come from the request (path segments,
   * body), so each is bounded to a fixed set: a known action or `other`; a configured environment,
   * `all` (a flag-wide change), `none`, or `other`. A caller cannot grow the series without bound.
   */
  changeLabels(change: { action: string; environment?: string | undefined }): { action: string; environment: string };
}

/** The actions adapters classify (and `unrecognized`); any other value is labelled `other`. */
export const labelledActions: ReadonlySet<string> = new Set([
  'flag.read', 'flag.create', 'flag.update', 'flag.enable', 'flag.disable', 'flag.archive', 'flag.delete', 'flag.revive',
  'strategy.create', 'strategy.update', 'strategy.delete',
  'segment_override.create', 'segment_override.update', 'segment_override.delete',
  'identity_override.create', 'identity_override.update', 'identity_override.delete',
  'variant.create', 'variant.update', 'variant.delete',
  'strategy.reorder', 'variants.update', 'dependency.add', 'dependency.delete',
  'flag.stale', 'flag.complete', 'flag.uncomplete', 'link.create', 'link.update', 'link.delete', 'tag.add', 'tag.update', 'tag.delete', 'unrecognized',
]);

export interface ReplicationLag {
  sink: string;
  entries: number;
  seconds: number;
}

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

export interface MetricsOptions {
  defaultMetrics?: boolean;
  /** Environment names that get a label of their own (compared case-insensitively); others are `other`. */
  environments?: readonly string[];
}

/** Decisions, requests, refusals and ledger appends. */
function requestMetrics(registry: Registry): Pick<Metrics, 'decisions' | 'decisionSeconds' | 'requestSeconds' | 'errors' | 'ledgerEntries'> {
  return {
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
  };
}

/** Upstream delivery failures and lag; the lag gauges read `lag()` on scrape. */
function replicationMetrics(registry: Registry, lag: () => ReplicationLag[]): Pick<Metrics, 'replicateFailures' | 'replicateLagEntries' | 'replicateLagSeconds'> {
  return {
    replicateFailures: new Counter({
      name: metricNames.replicateFailures,
      help: 'Failed deliveries to an upstream sink.',
      labelNames: ['sink'],
      registers: [registry],
    }),
    replicateLagEntries: new Gauge({
      name: metricNames.replicateLagEntries,
      help: 'Ledger entries an upstream sink has not acknowledged yet.',
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        for (const l of lag()) this.set({ sink: l.sink }, l.entries);
      },
    }),
    replicateLagSeconds: new Gauge({
      name: metricNames.replicateLagSeconds,
      help: 'Age of the oldest entry an upstream sink has not acknowledged (0 when caught up).',
      labelNames: ['sink'],
      registers: [registry],
      collect() {
        for (const l of lag()) this.set({ sink: l.sink }, l.seconds);
      },
    }),
  };
}

/** Policy bundle reloads, refusals and shadow disagreements. */
function policyMetrics(registry: Registry): Pick<Metrics, 'policyReloads' | 'policyBundleRefusals' | 'policyShadowDisagreements' | 'policyShadowRefusals' | 'policyShadowPaused'> {
  return {
    policyReloads: new Counter({
      name: metricNames.policyReloads,
      help: 'Policy bundle swaps, by result: loaded, refused (a bad bundle; the running policy stays), or unavailable (the bundle service gave none).',
      labelNames: ['result'],
      registers: [registry],
    }),
    policyBundleRefusals: new Counter({
      name: metricNames.policyBundleRefusals,
      help: 'Policy bundles refused on reload, by error code; the running policy stays.',
      labelNames: ['code'],
      registers: [registry],
    }),
    policyShadowDisagreements: new Counter({
      name: metricNames.policyShadowDisagreements,
      help: 'Decisions of the shadow policy bundle that differ from the active one, by kind.',
      labelNames: ['kind'],
      registers: [registry],
    }),
    policyShadowRefusals: new Counter({
      name: metricNames.policyShadowRefusals,
      help: 'Shadow candidate bundles refused (fetched from policy.shadow as a URL), by error code; shadow evaluation pauses.',
      labelNames: ['code'],
      registers: [registry],
    }),
    policyShadowPaused: new Gauge({
      name: metricNames.policyShadowPaused,
      help: '1 while shadow evaluation is paused because the candidate served was refused or none arrived, else 0.',
      registers: [registry],
    }),
  };
}

/** What alerts watch: timestamping, out-of-hours changes, drift; and delivery time per batch. */
function alertMetrics(registry: Registry, overdue: () => number): Pick<Metrics, 'timestampFailures' | 'uncoveredEntries' | 'outOfHoursChanges' | 'driftDetected' | 'breakGlass' | 'breakGlassReviewsOverdue' | 'replicateDeliverySeconds'> {
  return {
    timestampFailures: new Counter({
      name: metricNames.timestampFailures,
      help: 'RFC 3161 stamps that failed (no TSA answered, or a reply did not verify).',
      registers: [registry],
    }),
    uncoveredEntries: new Gauge({
      name: metricNames.uncoveredEntries,
      help: 'Ledger entries not yet covered by an RFC 3161 timestamp token.',
      registers: [registry],
    }),
    outOfHoursChanges: new Counter({
      name: metricNames.outOfHoursChanges,
      help: 'Changes to critical flags requested outside business hours, allowed or not.',
      labelNames: ['environment'],
      registers: [registry],
    }),
    driftDetected: new Counter({
      name: metricNames.driftDetected,
      help: 'Changes found on the platform that no flaggate change explains, by platform and source (state, event_log, file).',
      labelNames: ['platform', 'source'],
      registers: [registry],
    }),
    breakGlass: new Counter({
      name: metricNames.breakGlass,
      help: 'Break-glass changes granted: the wait for approvals skipped, a retrospective review opened.',
      labelNames: ['platform', 'environment'],
      registers: [registry],
    }),
    breakGlassReviewsOverdue: new Gauge({
      name: metricNames.breakGlassReviewsOverdue,
      help: 'Break-glass changes whose review by a second person is past due.',
      registers: [registry],
      collect() {
        this.set(overdue());
      },
    }),
    replicateDeliverySeconds: new Histogram({
      name: metricNames.replicateDeliverySeconds,
      help: 'Time for one batch delivery to an upstream sink, acknowledged or failed.',
      labelNames: ['sink'],
      buckets: latencyBuckets,
      registers: [registry],
    }),
  };
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  let lagSource: () => ReplicationLag[] = () => [];
  let overdueSource: () => number = () => 0;
  const environments = new Map((options.environments ?? []).map((e) => [e.trim().toLowerCase(), e.trim().toLowerCase()]));
  const environmentLabel = (env: string | undefined): string => {
    if (env === undefined) return 'none';
    if (env === '*') return 'all';
    return environments.get(env.trim().toLowerCase()) ?? 'other';
  };
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry, prefix: 'flaggate_' });
  return {
    registry,
    ...requestMetrics(registry),
    ...replicationMetrics(registry, () => lagSource()),
    ...policyMetrics(registry),
    ...alertMetrics(registry, () => overdueSource()),
    attestations: new Counter({
      name: metricNames.attestations,
      help: 'Scheduled attestation reports (attest.scheduleSeconds), by result: written, or failed (logged; requests are not affected).',
      labelNames: ['result'],
      registers: [registry],
    }),
    setReplicationLag(source) {
      lagSource = source;
    },
    setOverdueReviews(source) {
      overdueSource = source;
    },
    changeLabels(change) {
      return { action: labelledActions.has(change.action) ? change.action : 'other', environment: environmentLabel(change.environment) };
    },
  };
}
