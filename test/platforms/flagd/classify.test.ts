import { describe, expect, it } from 'vitest';
import { createFlagdAdapter } from '../../../src/platforms/flagd/index.js';
import { rawRequest } from '../../support/raw-request.js';

const adapter = createFlagdAdapter({ path: '/nonexistent/flags.json', environment: 'staging' });
const json = { 'content-type': 'application/json; charset=utf-8' };
const definition = { state: 'ENABLED', variants: { on: true, off: false }, defaultVariant: 'on' };

describe('flagd classify', () => {
  it.each([
    { name: 'list', method: 'GET', path: '/flags', want: { kind: 'read', read: { action: 'flag.read', environment: 'staging' } } },
    { name: 'one flag', method: 'GET', path: '/flags/a.b', want: { kind: 'read', read: { flagKey: 'a.b' } } },
    { name: 'enable', method: 'POST', path: '/flags/a.b/enable', want: { kind: 'write', change: { action: 'flag.enable', flagKey: 'a.b', environment: 'staging', newState: { state: 'ENABLED' } } } },
    { name: 'disable', method: 'POST', path: '/flags/a.b/disable', want: { kind: 'write', change: { action: 'flag.disable', newState: { state: 'DISABLED' } } } },
    { name: 'delete', method: 'DELETE', path: '/flags/a.b', want: { kind: 'write', change: { action: 'flag.delete', newState: null } } },
    { name: 'update', method: 'PUT', path: '/flags/a.b', body: definition, want: { kind: 'write', change: { action: 'flag.update', newState: definition } } },
    // Variant names are map keys, matched exactly: "Red" and "red" are two variants.
    { name: 'variants that differ only in case', method: 'PUT', path: '/flags/a.b', body: { ...definition, variants: { Red: 'red', red: 'crimson' }, defaultVariant: 'red' }, want: { kind: 'write', change: { action: 'flag.update' } } },
    { name: 'create', method: 'POST', path: '/flags', body: { key: 'n.k', ...definition }, want: { kind: 'write', change: { action: 'flag.create', flagKey: 'n.k', newState: definition } } },
    { name: 'an unknown write', method: 'PATCH', path: '/flags/a.b', want: { kind: 'unrecognized' } },
    { name: 'a write elsewhere', method: 'POST', path: '/reset', want: { kind: 'unrecognized' } },
  ])('classifies $name', ({ method, path, body, want }) => {
    const req = rawRequest(method, path, body ? JSON.stringify(body) : '', body ? json : {});
    expect(adapter.classify(req)).toMatchObject(want);
  });

  it('carries the request digest so the record names the exact bytes', () => {
    const req = rawRequest('PUT', '/flags/a.b', JSON.stringify(definition), json);
    const got = adapter.classify(req);
    expect(got.kind === 'write' && got.change.request).toEqual({ method: 'PUT', path: '/flags/a.b', bodySha256: req.bodySha256 });
  });

  it.each([
    { name: 'malformed JSON', method: 'PUT', path: '/flags/a.b', body: '{"state":', headers: json, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a JSON array', method: 'PUT', path: '/flags/a.b', body: '[]', headers: json, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a default variant that is not a variant', method: 'PUT', path: '/flags/a.b', body: JSON.stringify({ ...definition, defaultVariant: 'x' }), headers: json, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'an unknown field', method: 'PUT', path: '/flags/a.b', body: JSON.stringify({ ...definition, extra: 1 }), headers: json, code: 'ADAPT_BODY_MALFORMED' },
    // flagd (Go) decodes a definition's fields regardless of case: "State" would be read as "state".
    { name: 'a field beside its twin in another case', method: 'PUT', path: '/flags/a.b', body: JSON.stringify({ ...definition, State: 'DISABLED' }), headers: json, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'variants flagd would refuse (two types)', method: 'PUT', path: '/flags/a.b', body: JSON.stringify({ ...definition, variants: { on: true, off: 'no' } }), headers: json, code: 'ADAPT_FLAGD_INVALID' },
    { name: 'a targeting operator flagd does not know', method: 'POST', path: '/flags', body: JSON.stringify({ key: 'n.k', ...definition, targeting: { no_such_op: [1] } }), headers: json, code: 'ADAPT_FLAGD_INVALID' },
    { name: 'a missing content type', method: 'PUT', path: '/flags/a.b', body: JSON.stringify(definition), headers: {}, code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'a create without a key', method: 'POST', path: '/flags', body: JSON.stringify(definition), headers: json, code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a key with a slash', method: 'POST', path: '/flags/a%2Fb/enable', body: '', headers: {}, code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'a dot-dot key', method: 'DELETE', path: '/flags/..', body: '', headers: {}, code: 'ADAPT_TARGET_REFUSED' },
    { name: 'bad percent-encoding', method: 'GET', path: '/flags/%E0%A4%A', body: '', headers: {}, code: 'ADAPT_ROUTE_UNKNOWN' },
    { name: 'an unknown read route', method: 'GET', path: '/other', body: '', headers: {}, code: 'ADAPT_ROUTE_UNKNOWN' },
  ])('rejects $name with $code', ({ method, path, body, headers, code }) => {
    expect(() => adapter.classify(rawRequest(method, path, body, headers))).toThrow(expect.objectContaining({ code }));
  });
});
