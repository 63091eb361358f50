/**
 * The Flagsmith double against what a real Flagsmith 2.265.0 answered: every recorded exchange is
 * sent to it in order and must come back exactly as recorded (status, Content-Type, body), and each
 * request the real server accepted must be valid for the OpenAPI document that server generated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFlagsmithDouble, type FlagsmithDouble } from '../../support/flagsmith/double.js';
import { loadRecordings, wireBody } from '../../support/flagsmith/recordings.js';

let double: FlagsmithDouble;
beforeAll(async () => {
  double = await startFlagsmithDouble({ mode: 'replay' });
}, 60_000);
afterAll(async () => {
  await double?.stop();
});

/**
 * Requests the real server accepted that its own document does not describe (drf-spectacular
 * documents the serializer it was told of, not every field the view reads). Listed so a new one fails.
 */
const acceptedBeyondTheDocument = new Set<string>([
  '015', // PUT feature with `name`: read-only in UpdateFeature
  '024', // segment create with `project`: read-only in the segment serializer
  '025',
  '036', // identity override with `feature_state_value`: read-only in FeatureStateSerializerBasic, yet applied
  '088', // multivariate_feature_state_values[].id: read-only, used to find the allocation it changes
]);

describe('Flagsmith double: every recording replayed', () => {
  const recordings = loadRecordings();

  it('holds the 89 recorded exchanges', () => {
    expect(recordings).toHaveLength(89);
  });

  it('answers each recorded request exactly as the real server did, in order', async () => {
    const verdicts: Record<string, string> = {};
    for (const r of recordings) {
      const body = wireBody(r);
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(r.request.headers)) headers[k.toLowerCase()] = v.replace('<redacted>', 'redacted-credential');
      const res = await fetch(double.url + r.request.path, { method: r.request.method, headers, body });
      const text = await res.text();
      expect(res.status, r.file).toBe(r.response.status);
      expect(res.headers.get('content-type'), r.file).toBe(r.response.headers['Content-Type'] ?? null);
      if (typeof r.response.body === 'string' || r.response.body === null) expect(text, r.file).toBe(r.response.body ?? '');
      else expect(JSON.parse(text), r.file).toEqual(r.response.body);
      verdicts[r.file] = res.headers.get('x-double-openapi') ?? '';
    }
    const accepted = recordings.filter((r) => r.response.status < 300 && !acceptedBeyondTheDocument.has(r.file.slice(0, 3)));
    expect(Object.fromEntries(accepted.map((r) => [r.file, verdicts[r.file]]))).toEqual(Object.fromEntries(accepted.map((r) => [r.file, 'valid'])));
  }, 60_000);

  it('refuses a request that is not the next recorded one', async () => {
    const res = await fetch(`${double.url}/api/v1/projects/1/features/`, { headers: { authorization: 'Api-Key x' } });
    expect(res.status).toBe(599);
  });
});
