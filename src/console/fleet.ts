import type express from 'express';
import type { AuditEntry } from '../audit/index.js';
import type { Config } from '../config/index.js';
import type { PolicyRevision } from '../policy/index.js';
import type { ConsoleContext } from './console-app.js';
import { esc, time } from './html.js';

type Check = { ok: boolean; code?: string; detail?: string };

/** What the fleet page reads: the same sources as /readyz and /metrics. */
export interface ConsoleFleet {
  readiness(): Promise<Record<string, Check>>;
  policy: { readonly revision: PolicyRevision };
  /** The shadow bundle's report, when one decides beside the active one. */
  shadow?: () => unknown;
  metrics: { registry: { getMetricsAsJSON(): Promise<MetricJson[]> } };
}

interface MetricJson {
  name: string;
  values: Array<{ value: number; labels: Partial<Record<string, string | number>> }>;
}

/** The drift findings the console shows: each `drift.detected` entry and its acknowledgement. */
export type DriftFindings = () => Array<{ detected: AuditEntry; acknowledged: AuditEntry | null }>;

export type FleetConfig = Pick<Config, 'replicate' | 'timestamp' | 'platform'>;

interface ShadowFacts {
  shadow: PolicyRevision | null;
  paused: { code: string; since: string } | null;
  decisions: number;
  disagreements: Record<string, number>;
}

/** `/console/fleet`: the policy in force and in shadow, sinks and their lag, TSAs, drift, readiness. */
export function mountFleet(router: express.Router, ctx: ConsoleContext): void {
  const { deps, render, signedIn, sessionOf } = ctx;
  router.get('/fleet', signedIn('audit.read'), async (_req, res) => {
    const [checks, metrics] = await Promise.all([deps.readiness(), deps.metrics.registry.getMetricsAsJSON()]);
    const body = fleetBody({
      checks,
      metrics,
      policy: deps.policy.revision,
      shadow: deps.shadow?.() as ShadowFacts | undefined,
      config: deps.config,
      drift: deps.drift?.(),
    });
    render(res, 200, 'Fleet and policy', body, sessionOf(res));
  });
}

interface FleetView {
  checks: Record<string, Check>;
  metrics: MetricJson[];
  policy: PolicyRevision;
  shadow: ShadowFacts | undefined;
  config: FleetConfig;
  drift: ReturnType<DriftFindings> | undefined;
}

/** The page: each section a small table of facts, with the metric or check it comes from. */
export function fleetBody(v: FleetView): string {
  return [readinessPart(v.checks), policyPart(v), sinksPart(v), tsaPart(v), driftPart(v)].join('');
}

function readinessPart(checks: Record<string, Check>): string {
  const ready = Object.values(checks).every((c) => c.ok);
  const rows = Object.entries(checks)
    .map(([name, c]) => `<tr><th scope="row">${esc(name)}</th><td>${c.ok ? '<span class="ok">ok</span>' : '<span class="bad">failing</span>'}</td><td>${esc(c.code ?? '')}</td><td>${esc(c.detail ?? '')}</td></tr>`)
    .join('');
  return `<h2>Readiness</h2><p>This sidecar is <span id="readiness" class="${ready ? 'ok' : 'bad'}">${ready ? 'ready' : 'not ready'}</span> (the same checks as <code>/readyz</code>).</p>
<table><thead><tr><th>Check</th><th>Status</th><th>Code</th><th>Detail</th></tr></thead><tbody>${rows}</tbody></table>`;
}

function policyPart(v: FleetView): string {
  const reloads = metricValues(v.metrics, 'flaggate_policy_reloads_total');
  const refused = sum(metricValues(v.metrics, 'flaggate_policy_bundle_refusals_total'));
  const shadow = v.shadow
    ? `<tr><th scope="row">In shadow</th><td id="policy-shadow">${esc(v.shadow.shadow?.revision ?? 'none yet')}${v.shadow.paused ? ` (paused: ${esc(v.shadow.paused.code)})` : ''}</td><td><code>${esc(v.shadow.shadow?.sha256 ?? '')}</code></td></tr>`
    : '<tr><th scope="row">In shadow</th><td id="policy-shadow">none</td><td></td></tr>';
  const disagreements = v.shadow
    ? `<p>The shadow bundle decided beside ${v.shadow.decisions} decisions; it disagreed: ${Object.entries(v.shadow.disagreements).map(([k, n]) => `${esc(k.replace('_', ' '))} ${n}`).join(', ')}.</p>`
    : '';
  return `<h2>Policy</h2><table><thead><tr><th>Bundle</th><th>Revision</th><th>SHA-256</th></tr></thead><tbody>
<tr><th scope="row">In force</th><td id="policy-revision">${esc(v.policy.revision)}</td><td><code>${esc(v.policy.sha256)}</code></td></tr>${shadow}</tbody></table>${disagreements}
<p>Reloads: ${reloads.map((r) => `${esc(r.labels.result ?? '')} ${r.value}`).join(', ') || 'none'}; bundles refused: ${refused}.</p>`;
}

function sinksPart(v: FleetView): string {
  const lagEntries = byLabel(metricValues(v.metrics, 'flaggate_replicate_lag_entries'), 'sink');
  const lagSeconds = byLabel(metricValues(v.metrics, 'flaggate_replicate_lag_seconds'), 'sink');
  const failures = byLabel(metricValues(v.metrics, 'flaggate_replicate_failures_total'), 'sink');
  const rows = v.config.replicate.sinks
    .map((s) => `<tr><th scope="row">${esc(s.name)}</th><td>${esc(s.type)}</td><td>${esc(sinkWhere(s))}</td><td>${s.required ? 'yes' : 'no'}</td>
<td>${lagEntries.get(s.name) ?? 0}</td><td>${lagSeconds.get(s.name) ?? 0}</td><td>${failures.get(s.name) ?? 0}</td></tr>`)
    .join('');
  return `<h2>Upstream sinks</h2><p>A required sink more than ${v.config.replicate.maxBacklog} entries behind refuses changes.</p>
<table><thead><tr><th>Sink</th><th>Type</th><th>Where</th><th>Required</th><th>Lag (entries)</th><th>Lag (seconds)</th><th>Failed deliveries</th></tr></thead><tbody>${rows}</tbody></table>`;
}

/** Where a sink writes, without credentials: a PostgreSQL URL may carry a password, an HTTP one a token. */
function sinkWhere(s: FleetConfig['replicate']['sinks'][number]): string {
  if (s.type === 'jsonl') return s.path;
  try {
    const url = new URL(s.url);
    return s.type === 'postgres' ? `${url.hostname}${url.port ? `:${url.port}` : ''}${url.pathname}` : `${url.origin}${url.pathname}`;
  } catch {
    return '';
  }
}

function tsaPart(v: FleetView): string {
  const failures = sum(metricValues(v.metrics, 'flaggate_timestamp_failures_total'));
  const uncovered = sum(metricValues(v.metrics, 'flaggate_timestamp_uncovered_entries'));
  const ts = v.config.timestamp;
  const tsas = ts.tsaUrls.length === 0 ? '<li>the embedded TSA (development: its certificate is self-issued)</li>' : ts.tsaUrls.map((t) => `<li>${esc(new URL(t.url).origin + new URL(t.url).pathname)}</li>`).join('');
  return `<h2>Timestamp authorities</h2><ul>${tsas}</ul><p>Mode ${esc(ts.mode)}; when none answers: ${esc(ts.onUnavailable)}. Failed stamps: <span id="tsa-failures">${failures}</span>; entries not yet covered: <span id="uncovered">${uncovered}</span>.</p>`;
}

function driftPart(v: FleetView): string {
  if (!v.drift) return `<h2>Drift</h2><p>No drift check runs for the platform ${esc(v.config.platform.name)}.</p>`;
  const open = v.drift.filter((f) => f.acknowledged === null);
  const rows = open
    .slice(0, 20)
    .map((f) => `<tr><td>${time(f.detected.timestamp_utc)}</td><td><a href="/console/audit/entries/${f.detected.seq}">${esc(f.detected.flag_key ?? '(platform)')}</a></td><td>${esc(f.detected.environment ?? '')}</td><td>${esc(f.detected.drift?.source ?? '')}</td></tr>`)
    .join('');
  return `<h2>Drift</h2><p id="drift">${open.length === 0 ? 'No unacknowledged change made around flaggate.' : `${open.length} change(s) made on the platform around flaggate are not acknowledged.`} ${v.drift.length} finding(s) in all.</p>${
    rows ? `<table><thead><tr><th>Found</th><th>Flag</th><th>Environment</th><th>Source</th></tr></thead><tbody>${rows}</tbody></table>` : ''
  }`;
}

function metricValues(metrics: MetricJson[], name: string): MetricJson['values'] {
  return metrics.find((m) => m.name === name)?.values ?? [];
}

function byLabel(values: MetricJson['values'], label: string): Map<string, number> {
  return new Map(values.map((v) => [String(v.labels[label] ?? ''), v.value]));
}

function sum(values: MetricJson['values']): number {
  return values.reduce((n, v) => n + v.value, 0);
}
