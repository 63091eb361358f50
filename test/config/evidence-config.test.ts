import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { createSinks } from '../../src/replicate/index.js';

const opensearch = (extra: Record<string, unknown>) => ({ 'replicate.sinks': [{ type: 'jsonl' }, { type: 'opensearch', url: 'http://127.0.0.1:9200', ...extra }] });

describe('loadConfig: the archive and the OpenSearch sink', () => {
  it('reads the archive from FLAGGATE_ARCHIVE_* and has none by default', () => {
    const c = loadConfig({
      env: {
        FLAGGATE_ARCHIVE_BUCKET: 'flaggate-worm',
        FLAGGATE_ARCHIVE_RETENTION_DAYS: '2557',
        FLAGGATE_ARCHIVE_ENDPOINT: 'http://127.0.0.1:7070',
        FLAGGATE_ARCHIVE_ACCESS_KEY_ID: 'k',
        FLAGGATE_ARCHIVE_SECRET_ACCESS_KEY: 's',
      },
    });
    expect(c.archive).toEqual({ bucket: 'flaggate-worm', retentionDays: 2557, endpoint: 'http://127.0.0.1:7070', region: 'us-east-1', prefix: 'flaggate/', accessKeyId: 'k', secretAccessKey: 's' });
    expect(loadConfig({ env: {} }).archive).toBeUndefined();
  });

  it('fills the OpenSearch sink defaults: index flaggate-audit, not required, template put', () => {
    const c = loadConfig({ overrides: opensearch({}) });
    expect(c.replicate.sinks[1]).toMatchObject({ type: 'opensearch', name: 'opensearch', index: 'flaggate-audit', required: false, installTemplate: true });
    const [sink] = createSinks([c.replicate.sinks[1]!]);
    expect([sink!.name, sink!.required]).toEqual(['opensearch', false]);
  });

  it.each([
    { name: 'an archive without a retention', env: { FLAGGATE_ARCHIVE_BUCKET: 'flaggate-worm' }, overrides: {}, key: 'archive.retentionDays' },
    { name: 'an archive retention of zero days', env: { FLAGGATE_ARCHIVE_BUCKET: 'flaggate-worm', FLAGGATE_ARCHIVE_RETENTION_DAYS: '0' }, overrides: {}, key: 'archive.retentionDays' },
    { name: 'an access key without its secret', env: { FLAGGATE_ARCHIVE_BUCKET: 'flaggate-worm', FLAGGATE_ARCHIVE_RETENTION_DAYS: '1', FLAGGATE_ARCHIVE_ACCESS_KEY_ID: 'k' }, overrides: {}, key: 'archive.secretAccessKey' },
    { name: 'a bucket name S3 refuses', env: { FLAGGATE_ARCHIVE_BUCKET: 'Flaggate_WORM', FLAGGATE_ARCHIVE_RETENTION_DAYS: '1' }, overrides: {}, key: 'archive.bucket' },
    { name: 'an http archive endpoint in production', env: { FLAGGATE_MODE: 'production', FLAGGATE_ARCHIVE_BUCKET: 'flaggate-worm', FLAGGATE_ARCHIVE_RETENTION_DAYS: '1', FLAGGATE_ARCHIVE_ENDPOINT: 'http://s3.internal' }, overrides: {}, key: 'archive.endpoint' },
    { name: 'an OpenSearch sink with an API key and a username', env: {}, overrides: opensearch({ apiKey: 'a', username: 'u', password: 'p' }), key: 'replicate.sinks.1.apiKey' },
    { name: 'an OpenSearch index name with capitals', env: {}, overrides: opensearch({ index: 'Flaggate' }), key: 'replicate.sinks.1.index' },
    { name: 'an http OpenSearch URL in production', env: { FLAGGATE_MODE: 'production' }, overrides: opensearch({}), key: 'replicate.sinks.1.url' },
  ])('rejects $name naming the key', ({ env, overrides, key }) => {
    expect(() => loadConfig({ env, overrides })).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(key) }));
  });
});
