import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../support/temp-dir.js';

// Each check of scripts/check-deploy.sh (run by scripts/test.sh) passes on what the project ships
// and fails on a copy broken in one place: a check that cannot fail proves nothing.
const root = new URL('../..', import.meta.url).pathname;
const tmp = makeTempDir('flaggate-deploy-');
afterAll(() => tmp.cleanup());

function check(args: string[], env: Record<string, string> = {}): { status: number | null; output: string } {
  const r = spawnSync('bash', [join(root, 'scripts/check-deploy.sh'), ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 120_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
const shipped = (path: string) => readFileSync(join(root, path), 'utf8');
const write = (name: string, text: string) => {
  const file = join(tmp.dir, name);
  writeFileSync(file, text);
  return file;
};
/** Replaces exactly one occurrence, so a stale pattern fails the test instead of testing nothing. */
const breakOnce = (text: string, from: string, to: string) => {
  expect(text.split(from)).toHaveLength(2);
  return text.replace(from, to);
};

describe('check-deploy.sh chart', () => {
  it('passes the shipped chart and its committed renderings', () => {
    const r = check(['chart']);
    expect(r.output).toContain('kubernetes-validate (gateway');
    expect(r.status, r.output).toBe(0);
  });

  it.each([
    { name: 'a field Kubernetes does not have', file: 'templates/pdb.yaml', from: '  minAvailable:', to: '  minAvailible:', want: /did not validate|Additional properties/ },
    { name: 'a value of the wrong type', file: 'templates/_helpers.tpl', from: 'readOnlyRootFilesystem: true', to: 'readOnlyRootFilesystem: "yes"', want: /did not validate/ },
    { name: 'an apiVersion Kubernetes does not serve', file: 'templates/pdb.yaml', from: 'apiVersion: policy/v1', to: 'apiVersion: policy/v2', want: /does not have/ },
    { name: 'a template that does not render', file: 'templates/pdb.yaml', from: 'include "flaggate.fullname"', to: 'include "flaggate.fullnam"', want: /helm lint failed/ },
    { name: 'production mode without a policy verification key', file: 'values.yaml', from: '    name: flaggate-policy-key', to: '    name: ""', want: /loads only signed policy bundles/ },
  ])('fails a chart with $name', ({ file, from, to, want }) => {
    const chart = join(tmp.dir, `chart-${file.replace(/\W/g, '-')}`);
    cpSync(join(root, 'deploy/helm/flaggate'), chart, { recursive: true });
    writeFileSync(join(chart, file), breakOnce(readFileSync(join(chart, file), 'utf8'), from, to));
    // One Kubernetes version is enough to show the failure; the shipped chart is checked against both.
    const r = check(['chart'], { FLAGGATE_CHART: chart, KUBE_VERSIONS: '1.37.0' });
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toMatch(want);
  });

  it('fails a manifest that has drifted from the chart', () => {
    const r = check(['validate', write('drifted.yaml', breakOnce(shipped('deploy/kubernetes/gateway.yaml'), 'replicas: 2', 'replicas: "two"'))]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain('did not validate');
  });
});

describe('check-deploy.sh dockerfile', () => {
  it('passes the shipped Dockerfile with warnings as failures', () => {
    const r = check(['dockerfile']);
    expect(r.status, r.output).toBe(0);
  });

  it.each([
    { name: 'unpinned apt packages (DL3008)', from: 'FROM node:${NODE_VERSION}-bookworm-slim AS runtime\n', to: 'FROM node:${NODE_VERSION}-bookworm-slim AS runtime\nRUN apt-get update && apt-get install -y --no-install-recommends curl && rm -rf /var/lib/apt/lists/*\n', want: 'DL3008' },
    { name: 'an image without a tag (DL3006)', from: 'FROM node:${NODE_VERSION}-bookworm AS build', to: 'FROM node AS build', want: 'DL3006' },
  ])('fails a Dockerfile with $name', ({ from, to, want }) => {
    const r = check(['dockerfile', write('Dockerfile', breakOnce(shipped('Dockerfile'), from, to))]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain(want);
  });
});

describe('check-deploy.sh rules', () => {
  const tests = join(root, 'docs/prometheus/flaggate-alerts.test.yml');

  it('passes the shipped rules and their unit tests', () => {
    const r = check(['rules']);
    expect(r.status, r.output).toBe(0);
  });

  it.each([
    { name: 'a threshold its test no longer meets', from: 'flaggate_replicate_lag_seconds) > 60', to: 'flaggate_replicate_lag_seconds) > 600', want: /FAILED[\s\S]*FlaggateReplicationLagging/ },
    { name: 'a label the test does not expect', from: 'labels: { severity: notify }\n        annotations:\n          summary: Write', to: 'labels: { severity: page }\n        annotations:\n          summary: Write', want: /FAILED[\s\S]*FlaggateForgedTokens/ },
    { name: 'an expression that does not parse', from: 'max(flaggate_timestamp_uncovered_entries) > 0', to: 'max(flaggate_timestamp_uncovered_entries > 0', want: /check rules failed/ },
  ])('fails rules with $name', ({ from, to, want }) => {
    const r = check(['rules', write('flaggate-alerts.yml', breakOnce(shipped('docs/prometheus/flaggate-alerts.yml'), from, to)), tests]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toMatch(want);
  });
});

describe('check-deploy.sh dashboard', () => {
  it('passes the shipped dashboard', () => {
    const r = check(['dashboard']);
    expect(r.status, r.output).toBe(0);
  });

  it('fails a dashboard query that is not PromQL', () => {
    const broken = breakOnce(shipped('docs/grafana/flaggate-dashboard.json'), 'sum by (result) (rate(flaggate_decisions_total[5m]))', 'sum by (result) (rate(flaggate_decisions_total[5m])');
    const r = check(['dashboard', write('dashboard.json', broken)]);
    expect(r.status, r.output).not.toBe(0);
    expect(r.output).toContain('not valid PromQL');
  });
});
