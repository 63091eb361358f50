import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { createMetrics } from '../../src/metrics.js';

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');

type AlertRule = { alert: string; expr: string };
type RuleTest = { name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }> };

describe('the alert rules', () => {
  const rules: AlertRule[] = parse(read('docs/prometheus/flaggate-alerts.yml')).groups.flatMap((g: { rules: AlertRule[] }) => g.rules);
  const tests: RuleTest[] = parse(read('docs/prometheus/flaggate-alerts.test.yml')).tests;

  it.each(rules.map((r) => [r.alert]))('%s has a promtool test that sees it quiet and firing', (alert) => {
    const checks = tests.flatMap((t) => t.alert_rule_test ?? []).filter((c) => c.alertname === alert);
    expect(checks.some((c) => (c.exp_alerts ?? []).length === 0), 'a case where it stays quiet').toBe(true);
    expect(checks.some((c) => (c.exp_alerts ?? []).length > 0), 'a case where it fires').toBe(true);
  });

  it('are the same in the Helm chart as in docs/prometheus', () => {
    expect(parse(read('deploy/helm/flaggate/files/flaggate-alerts.yml'))).toEqual(parse(read('docs/prometheus/flaggate-alerts.yml')));
  });
});

/** The series names a scrape of flaggate can hold: every family, histograms and summaries with their parts. */
async function exposedSeries(): Promise<Set<string>> {
  const text = await createMetrics({ defaultMetrics: true }).registry.metrics();
  const parts: Record<string, string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['', '_sum', '_count'] };
  return new Set(
    [...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)].flatMap(([, name, type]) => (parts[type!] ?? ['']).map((p) => name + p)),
  );
}

const promqlWords = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'offset', 'and', 'or', 'unless', 'inf', 'nan']);

/**
 * The metric names a PromQL expression selects: identifiers that are not functions (followed by
 * `(`), keywords, label names inside `{}` or grouping lists, strings, durations or numbers.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ');
  return [...bare.matchAll(/(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()/g)]
    .map((m) => m[1]!)
    .filter((w) => !promqlWords.has(w.toLowerCase()));
}

describe('metricNamesIn', () => {
  it.each([
    { expr: 'sum by (code) (rate(flaggate_errors_total{code=~"A|B"}[5m])) > 0', want: ['flaggate_errors_total'] },
    { expr: 'histogram_quantile(0.99, sum by (le) (rate(flaggate_request_duration_seconds_bucket[5m])))', want: ['flaggate_request_duration_seconds_bucket'] },
    { expr: 'a_total / on (sink) group_left b_total offset 5m', want: ['a_total', 'b_total'] },
    { expr: 'max(flagate_replicate_lag_seconds) > 60', want: ['flagate_replicate_lag_seconds'] },
    { expr: 'vector(1)', want: [] },
  ])('$expr', ({ expr, want }) => {
    expect(metricNamesIn(expr)).toEqual(want);
  });
});

describe('the Grafana dashboard', () => {
  type Panel = { title: string; targets?: Array<{ expr?: string }>; panels?: Panel[] };
  const all = (ps: Panel[] = []): Panel[] => ps.flatMap((p) => [p, ...all(p.panels)]);
  const targets = all(JSON.parse(read('docs/grafana/flaggate-dashboard.json')).panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr ?? '' })),
  );

  it.each(['max(flagate_replicate_lag_seconds) > 60', 'rate(flaggate_request_duration_seconds[5m])', 'rate(flaggate_request_duration_seconds_total[5m])'])(
    'would flag the query %s, whose metric flaggate does not export',
    async (expr) => {
      const exposed = await exposedSeries();
      expect(metricNamesIn(expr).filter((n) => !exposed.has(n))).toHaveLength(1);
    },
  );

  it('has queries', () => {
    expect(targets.length).toBeGreaterThan(5);
  });

  it.each(targets)('$panel: every metric in "$expr" is one flaggate exports', async ({ expr }) => {
    const exposed = await exposedSeries();
    const names = metricNamesIn(expr);
    expect(names.length, 'the query names no metric').toBeGreaterThan(0);
    expect(names.filter((n) => !exposed.has(n))).toEqual([]);
  });
});
