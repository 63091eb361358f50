import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createSinks } from '../../src/replicate/index.js';

describe('createSinks', () => {
  it('adds a required PostgreSQL sink beside the default JSONL stream for FLAGGATE_UPSTREAM_POSTGRES_URL', async () => {
    const config = loadConfig({ env: { FLAGGATE_UPSTREAM_POSTGRES_URL: 'postgres://flaggate@db.internal:5432/audit' }, cwd: '/srv/app' });
    expect(config.replicate).toMatchObject({
      maxBacklog: 10_000,
      batchSize: 500,
      sinks: [
        { type: 'jsonl', name: 'jsonl', path: '/srv/app/data/audit.jsonl', required: true },
        { type: 'postgres', name: 'postgres', url: 'postgres://flaggate@db.internal:5432/audit', required: true, migrate: false },
      ],
    });
  });

  it('builds HTTP sinks from the file form', async () => {
    const config = loadConfig({
      env: {},
      overrides: {
        'replicate.sinks': [
          { type: 'http', name: 'splunk', format: 'splunk_hec', url: 'https://hec.example:8088/services/collector/event', token: 't' },
          { type: 'http', name: 'hook', format: 'webhook', url: 'https://siem.example/hook', secret: 's', required: true },
        ],
      },
    });
    const sinks = createSinks(config.replicate.sinks);
    expect(sinks.map((s) => [s.name, s.required])).toEqual([['splunk', false], ['hook', true]]);
    await Promise.all(sinks.map((s) => s.close()));
  });

  it.each([
    { name: 'a HEC sink has no token', sink: { type: 'http', format: 'splunk_hec', url: 'https://h.example/e' }, key: 'replicate.sinks.0.token' },
    { name: 'a webhook has no secret', sink: { type: 'http', format: 'webhook', url: 'https://h.example/e' }, key: 'replicate.sinks.0.secret' },
    { name: 'a postgres URL is not postgres://', sink: { type: 'postgres', url: 'mysql://x' }, key: 'replicate.sinks.0.url' },
  ])('rejects the configuration with CONFIG_INVALID when $name', ({ sink, key }) => {
    expect(() => loadConfig({ env: {}, overrides: { 'replicate.sinks': [sink] } })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) }));
  });

  it('rejects the configuration with CONFIG_INVALID when two sinks share a name (their cursors would collide)', () => {
    expect(() => loadConfig({ env: { FLAGGATE_UPSTREAM_POSTGRES_URL: 'postgres://a@b/c' }, overrides: { 'replicate.sinks': [{ type: 'postgres', url: 'postgres://x@y/z' }] } })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('duplicate sink name') }),
    );
  });
});
