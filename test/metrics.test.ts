import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createMetrics, metricNames } from '../src/metrics.js';

const exported = new Set<string>(Object.values(metricNames));
const referenced = (file: string) =>
  new Set([...readFileSync(new URL(`../docs/${file}`, import.meta.url), 'utf8').matchAll(/flaggate_[a-z_]+/g)].map((m) => m[0].replace(/_bucket$/, '')));

describe('metrics', () => {
  it.each(['grafana/flaggate-dashboard.json', 'prometheus/flaggate-alerts.yml'])('%s uses only metrics flaggate exports', (file) => {
    const unknown = [...referenced(file)].filter((name) => !exported.has(name));
    expect(unknown).toEqual([]);
  });

  it('registers every name in metricNames', async () => {
    const text = await createMetrics().registry.metrics();
    for (const name of exported) expect(text).toContain(`# HELP ${name} `);
  });

  it('alerts name error codes that exist', () => {
    const rules = readFileSync(new URL('../docs/prometheus/flaggate-alerts.yml', import.meta.url), 'utf8');
    const codes = [...rules.matchAll(/code=~?"([^"]+)"/g)].flatMap((m) => m[1]!.split('|'));
    expect(codes.length).toBeGreaterThan(3);
    const errors = readFileSync(new URL('../src/errors.ts', import.meta.url), 'utf8');
    for (const code of new Set(codes)) expect(errors, code).toContain(`'${code}'`);
  });
});
