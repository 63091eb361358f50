import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyRest, compileMapping } from '../../../src/platforms/rest/index.js';

const base = {
  reads: ['GET /api/flags/{flag}'],
  state: 'GET /api/flags/{flag}',
  writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env' }],
};

function load(rest: unknown) {
  return loadConfig({ env: {}, overrides: { 'platform.name': 'rest', 'platform.targetUrl': 'http://127.0.0.1:1', 'platform.targetToken': 'k', 'platform.rest': rest } });
}

function raw(method: string, path: string, body?: unknown, contentType = 'application/json'): RawRequest {
  const bytes = Buffer.from(body === undefined ? '' : JSON.stringify(body), 'utf8');
  return { method, path, headers: body === undefined ? {} : { 'content-type': contentType }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
}

describe('the platform.rest mapping, checked at start-up', () => {
  it('loads the mapping with its defaults', () => {
    const config = load(base);
    expect(config.platform.rest).toMatchObject(base);
    expect(compileMapping(config.platform.rest, 'production')).toMatchObject({ credentialHeader: 'authorization', credentialFormat: 'Bearer {token}' });
  });

  it.each([
    { name: 'no mapping', rest: undefined, key: 'platform.rest', says: 'required' },
    { name: 'a route that is not METHOD /path', rest: { ...base, state: '/api/flags/{flag}' }, key: 'platform.rest.state.route', says: 'METHOD /path' },
    { name: 'an unknown route parameter', rest: { ...base, writes: [{ route: 'PATCH /api/flags/{id}', action: 'flag.update' }] }, key: 'platform.rest.writes.0.route', says: '{id}' },
    { name: 'a write without a flag', rest: { ...base, writes: [...base.writes, { route: 'POST /api/flags', action: 'flag.create' }] }, key: 'platform.rest.writes.1.flagKey', says: 'no {flag}' },
    { name: 'a source naming a parameter the route lacks', rest: { ...base, writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: '{environment}' }] }, key: 'platform.rest.writes.0.environment', says: 'no {environment}' },
    { name: 'a bad JSON pointer', rest: { ...base, writes: [{ route: 'POST /api/flags', action: 'flag.create', flagKey: 'body:name' }] }, key: 'platform.rest.writes.0.flagKey', says: 'JSON pointer' },
    { name: 'a body source on a route without a body', rest: { ...base, writes: [{ route: 'POST /api/flags/{flag}/on', action: 'flag.enable', mediaType: 'none', environment: 'body:/env' }] }, key: 'platform.rest.writes.0.environment', says: 'no body' },
    { name: 'a media type flaggate cannot read', rest: { ...base, writes: [{ route: 'PUT /api/flags/{flag}', action: 'flag.update', mediaType: 'application/x-www-form-urlencoded' }] }, key: 'platform.rest.writes.0.mediaType', says: 'JSON media type' },
    { name: 'a credential format without the token', rest: { ...base, credentialFormat: 'Bearer' }, key: 'platform.rest.credentialFormat', says: '{token}' },
    { name: 'a credential header flaggate writes itself', rest: { ...base, credentialHeader: 'Content-Type' }, key: 'platform.rest.credentialHeader', says: 'flaggate writes' },
    { name: 'an unknown key', rest: { ...base, write: [] }, key: 'platform.rest', says: 'write' },
    { name: 'a write as a read', rest: { ...base, reads: ['POST /api/flags'] }, key: 'platform.rest.reads.0', says: 'GET' },
    { name: 'a flag key read from elsewhere on a route with {flag}', rest: { ...base, writes: [{ route: 'PATCH /api/{environment}/flags/{flag}', action: 'flag.update', flagKey: 'body:/name' }] }, key: 'platform.rest.writes.0.flagKey', says: 'has {flag}' },
    { name: 'an environment read from the query on a route with {environment}', rest: { ...base, writes: [{ route: 'PATCH /api/{environment}/flags/{flag}', action: 'flag.update', environment: 'query:env' }] }, key: 'platform.rest.writes.0.environment', says: 'has {environment}' },
    { name: 'several state reads without names', rest: { ...base, state: ['GET /api/flags/{flag}', 'GET /api/flags/{flag}/rules'] }, key: 'platform.rest.state.0.name', says: 'name' },
    { name: 'a keyPointer on a state read of no one flag', rest: { ...base, state: { route: 'GET /api/flags', keyPointer: '/name' } }, key: 'platform.rest.state.keyPointer', says: '{flag}' },
    { name: 'a keyPointer that is no JSON pointer', rest: { ...base, state: { route: 'GET /api/flags/{flag}', keyPointer: 'name' } }, key: 'platform.rest.state.keyPointer', says: 'JSON pointer' },
    // Which of two routes for the same requests a service takes is not known.
    { name: 'two writes for the same requests', rest: { ...base, writes: [...base.writes, { route: 'PATCH /api/flags/{environment}', action: 'flag.update', flagKey: 'body:/key' }] }, key: 'platform.rest.writes.1.route', says: 'same requests as writes.0' },
  ])('rejects $name, naming $key', ({ rest, key, says }) => {
    expect(() => load(rest)).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining(`${key}`) }));
    expect(() => load(rest)).toThrow(expect.objectContaining({ message: expect.stringContaining(says) }));
  });
});

describe('classifyRest', () => {
  const mapping = compileMapping(
    {
      state: 'GET /p/{project}/flags/{flag}',
      writes: [
        { route: 'POST /p/{project}/flags', action: 'flag.create', flagKey: 'body:/flag/key', newState: 'body:/flag' },
        { route: 'PUT /p/{project}/envs/{environment}/flags/{flag}', action: 'flag.update', mediaType: 'application/merge-patch+json' },
        { route: 'POST /p/{project}/flags/{flag}/kill', action: 'flag.disable', environment: 'production', mediaType: 'none', project: '{project}' },
      ],
    },
    'staging',
  );

  it('fills each field from its source, and the new state from its pointer', () => {
    expect(classifyRest(mapping, raw('POST', '/p/shop/flags', { flag: { key: 'checkout', on: false } }))).toMatchObject({
      kind: 'write', change: { action: 'flag.create', project: 'shop', flagKey: 'checkout', environment: 'staging', newState: { key: 'checkout', on: false } },
    });
    expect(classifyRest(mapping, raw('PUT', '/p/shop/envs/production/flags/checkout', { on: true }, 'application/merge-patch+json'))).toMatchObject({
      kind: 'write', change: { environment: 'production', flagKey: 'checkout' }, forward: { contentType: 'application/merge-patch+json' },
    });
    expect(classifyRest(mapping, raw('POST', '/p/shop/flags/checkout/kill'))).toMatchObject({ kind: 'write', change: { action: 'flag.disable', environment: 'production', newState: null }, forward: { contentType: null } });
  });

  it.each([
    { name: 'a flag key that is not a string', req: raw('POST', '/p/shop/flags', { flag: { key: 7 } }), code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a body where the pointer finds nothing', req: raw('POST', '/p/shop/flags', { key: 'checkout' }), code: 'ADAPT_BODY_MALFORMED' },
    // Forwarded whole, the body's other members would reach the service undecided and unrecorded.
    { name: 'a member beside the new state', req: raw('POST', '/p/shop/flags', { flag: { key: 'checkout' }, enabled: true }), code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a member beside the pointer path', req: raw('POST', '/p/shop/flags', { flag: { key: 'checkout' }, 'fl/ag': {} }), code: 'ADAPT_BODY_MALFORMED' },
    // A service that matches keys regardless of case (Go's encoding/json) would create or change "payments".
    { name: 'a key beside its twin in another case', req: raw('POST', '/p/shop/flags', { flag: { key: 'checkout', Key: 'payments' } }), code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a whole-body state with keys that differ only in case', req: raw('PUT', '/p/shop/envs/staging/flags/checkout', { on: true, ON: false }, 'application/merge-patch+json'), code: 'ADAPT_BODY_MALFORMED' },
    { name: 'another media type than the route declares', req: raw('PUT', '/p/shop/envs/production/flags/checkout', { on: true }), code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' },
    { name: 'a body on a route without one', req: raw('POST', '/p/shop/flags/checkout/kill', { all: true }), code: 'ADAPT_BODY_MALFORMED' },
    { name: 'a query the route does not take', req: raw('POST', '/p/shop/flags/checkout/kill?force=1'), code: 'ADAPT_QUERY_REFUSED' },
    { name: 'a read the mapping does not list', req: raw('GET', '/p/shop/flags/checkout'), code: 'ADAPT_ROUTE_UNKNOWN' },
  ])('refuses $name', ({ req, code }) => {
    expect(() => classifyRest(mapping, req)).toThrow(expect.objectContaining({ code }));
  });

  it('leaves a write no route matches (another case, another method) unrecognized, and refuses an empty segment', () => {
    for (const path of ['/P/shop/flags', '/p/shop/flags/checkout']) {
      expect(classifyRest(mapping, raw('POST', path, { flag: { key: 'k' } })).kind, path).toBe('unrecognized');
    }
    expect(() => classifyRest(mapping, raw('POST', '/p/shop/flags/', { flag: { key: 'k' } }))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
  });
});

/** Where a service's router or framework reads a request otherwise than the one route it matches and its own members. */
describe('classifyRest, as service frameworks read requests', () => {
  const mapping = compileMapping(
    {
      state: 'GET /api/flags/{flag}',
      writes: [
        { route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env' },
        { route: 'POST /api/flags', action: 'flag.create', flagKey: 'body:/key', environment: 'production' },
        { route: 'PATCH /api/flags/bulk', action: 'flag.update', flagKey: 'bulk-all', environment: 'production' },
        { route: 'POST /api/flags/{flag}/{environment}', action: 'flag.update' },
        { route: 'PATCH /api/flags/{flag}/archive', action: 'flag.archive', mediaType: 'none' },
        { route: 'POST /api/flags/{flag}/archive', action: 'flag.archive', mediaType: 'none' },
        { route: 'PUT /api/{flag}/x', action: 'flag.update', environment: 'production' },
        { route: 'PUT /api/y/{environment}', action: 'flag.disable', flagKey: 'body:/key' },
        { route: 'PUT /api/all/{flag}', action: 'flag.update', environment: '*' },
      ],
    },
    'staging',
  );

  // Go's ServeMux and Werkzeug run the most specific route, Express, Starlette, Rails and Laravel the
  // first declared, Spring the one with the fewest parameters: which one the service runs is not known.
  it.each([
    ['a literal route and a parameter route', raw('PATCH', '/api/flags/bulk', { enabled: true })],
    ['a literal route and a parameter route, a route of another length between them', raw('POST', '/api/flags/checkout/archive')],
    ['two routes that overlap in part', raw('PUT', '/api/y/x', { key: 'checkout' })],
  ])('refuses a write that two routes match: %s', (_name, req) => {
    expect(() => classifyRest(mapping, req)).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN', message: expect.stringContaining('which one the service runs is not known') }));
  });

  it('takes a write that one route matches, and a member that says what the entry says', () => {
    expect(classifyRest(mapping, raw('PATCH', '/api/flags/checkout?env=staging', { enabled: true }))).toMatchObject({ change: { flagKey: 'checkout', environment: 'staging' } });
    expect(classifyRest(mapping, raw('PATCH', '/api/flags/checkout/archive'))).toMatchObject({ change: { action: 'flag.archive', flagKey: 'checkout' } });
    expect(classifyRest(mapping, raw('PATCH', '/api/flags/checkout?env=staging', { key: 'checkout', env: 'staging', enabled: true }))).toMatchObject({ kind: 'write' });
    expect(classifyRest(mapping, raw('POST', '/api/flags', { key: 'checkout', name: 'Checkout' }))).toMatchObject({ change: { flagKey: 'checkout', environment: 'production' } });
    // Every environment: a body naming environments says no more than the entry.
    expect(classifyRest(mapping, raw('PUT', '/api/all/checkout', { environments: { production: { on: true } } }))).toMatchObject({ change: { environment: '*' } });
  });

  it.each([
    // Laravel (Symfony's method override) reads a POST body's _method as the request's method.
    { name: '_method in the body', req: raw('PATCH', '/api/flags/checkout?env=staging', { enabled: true, _METHOD: 'DELETE' }) },
    // Laravel's input() and $request->env prefer the body's member to the query's and the route's.
    { name: 'a body member named like the query parameter the environment comes from', req: raw('PATCH', '/api/flags/checkout?env=staging', { enabled: true, Env: 'production' }) },
    { name: 'a body member named like the route\'s {flag}', req: raw('PATCH', '/api/flags/sandbox?env=staging', { enabled: true, flag: 'checkout' }) },
    { name: 'a body member a service may name its flag parameter, saying another flag', req: raw('PATCH', '/api/flags/sandbox?env=staging', { enabled: true, key: 'checkout' }) },
    { name: 'a body member a service may name its environment parameter', req: raw('POST', '/api/flags/checkout/staging', { on: true, env: 'production' }) },
    // The environment is the mapping's: a body naming environments would be applied where the entry does not say.
    { name: 'a body naming environments where the mapping gives one environment', req: raw('POST', '/api/flags', { key: 'checkout', environments: { production: { on: true } } }) },
    // A Spring DTO binds environmentKey; Java's Turkish-locale lowercasing reads a dotted capital I as i.
    { name: 'a member a DTO binds as the environment', req: raw('PATCH', '/api/flags/checkout?env=staging', { enabled: true, environmentKey: 'production' }) },
    { name: 'an environment member with a dotted capital I', req: raw('PATCH', '/api/flags/checkout?env=staging', { enabled: true, 'env\u0130ronment': 'production' }) },
  ])('refuses $name', ({ req }) => {
    expect(() => classifyRest(mapping, req)).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });

  it('compares a member with the field the mapping takes from its name, takes members the mapping declares the body\'s, and refuses reads two routes match', () => {
    const m = compileMapping(
      {
        reads: ['GET /api/{project}/envs/{flag}', 'GET /api/web/envs/{environment}'],
        state: 'GET /api/flags/{flag}',
        writes: [
          { route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:key' },
          { route: 'POST /api/flags/{flag}/variations', action: 'flag.update', environment: 'query:env', bodyMembers: ['key'] },
          { route: 'PUT /api/all/{flag}', action: 'flag.update', environment: '*', query: ['env'] },
        ],
      },
      'staging',
    );
    // key is the environment here: a body key equal to the flag key says another environment.
    expect(() => classifyRest(m, raw('PATCH', '/api/flags/production?key=staging', { key: 'production' }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    expect(classifyRest(m, raw('POST', '/api/flags/checkout/variations?env=staging', { key: 'treatment', value: true }))).toMatchObject({ change: { flagKey: 'checkout', environment: 'staging' } });
    expect(classifyRest(m, raw('PUT', '/api/all/checkout?env=staging', { key: 'checkout', environment: 'production', environments: {} }))).toMatchObject({ change: { environment: '*' } });
    expect(() => classifyRest(m, raw('GET', '/api/web/envs/production'))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
  });

  it('refuses at start-up a passthrough query parameter named like a field the change takes from elsewhere, and * but for the environment', () => {
    expect(() => load({ ...base, writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'body:/env', query: ['env'] }] })).toThrow(expect.objectContaining({ message: expect.stringContaining('platform.rest.writes.0.query') }));
    expect(() => load({ ...base, writes: [{ route: 'POST /api/flags', action: 'flag.create', flagKey: '*' }] })).toThrow(expect.objectContaining({ message: expect.stringContaining('platform.rest.writes.0.flagKey') }));
    expect(() => load({ ...base, state: 'GET /api/{environment}/flags/{flag}', writes: [{ route: 'PUT /api/all/{flag}', action: 'flag.update', environment: '*' }] })).toThrow(expect.objectContaining({ message: expect.stringContaining('platform.rest.state: reads {environment}') }));
    // A DTO binds query parameters as it binds body members; bodyMembers cannot vouch for the method, the route's or the query's names.
    expect(() => load({ ...base, writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env', query: ['environmentKey'] }] })).toThrow(expect.objectContaining({ message: expect.stringContaining('platform.rest.writes.0.query') }));
    for (const claimed of ['env', '_method', 'Flag']) {
      expect(() => load({ ...base, writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env', bodyMembers: [claimed] }] }), claimed).toThrow(expect.objectContaining({ message: expect.stringContaining('platform.rest.writes.0.bodyMembers') }));
    }
  });

  it('exempts only the member a pointer names, exactly, and an object holding the new state', () => {
    const m = compileMapping(
      {
        state: 'GET /api/flags/{flag}',
        writes: [
          { route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'body:/environment' },
          { route: 'PUT /api/flags/{flag}', action: 'flag.update', environment: 'production', newState: 'body:/flag' },
        ],
      },
      'staging',
    );
    expect(classifyRest(m, raw('PATCH', '/api/flags/checkout', { environment: 'staging', on: true }))).toMatchObject({ change: { environment: 'staging' } });
    expect(() => classifyRest(m, raw('PATCH', '/api/flags/checkout', { environment: 'staging', 'env\u0130ronment': 'production' }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
    expect(classifyRest(m, raw('PUT', '/api/flags/checkout', { flag: { on: true } }))).toMatchObject({ change: { newState: { on: true } } });
    expect(() => classifyRest(m, raw('PUT', '/api/flags/checkout', { flag: ['other'] }))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
  });
});

/** Rails and DRF's format suffixes read `checkout.json` as checkout, in the json format. */
describe('classifyRest for a service whose router reads format suffixes', () => {
  const rest = { formatSuffixes: true, reads: ['GET /api/flags/{flag}'], state: 'GET /api/flags/{flag}', writes: [{ route: 'PATCH /api/flags/{flag}', action: 'flag.update', environment: 'query:env' }, { route: 'POST /api/{flag}/on', action: 'flag.enable', environment: 'production', mediaType: 'none' }] };

  it('refuses a dot in a last segment the route takes as a parameter, and nowhere else', () => {
    const m = compileMapping(rest, 'staging');
    for (const path of ['/api/flags/checkout.json?env=staging', '/api/flags/payments.checkout?env=staging']) {
      expect(() => classifyRest(m, raw('PATCH', path, { on: true })), path).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN', message: expect.stringContaining('formatSuffixes') }));
    }
    expect(() => classifyRest(m, raw('GET', '/api/flags/checkout.json'))).toThrow(expect.objectContaining({ code: 'ADAPT_ROUTE_UNKNOWN' }));
    expect(classifyRest(m, raw('POST', '/api/payments.checkout/on'))).toMatchObject({ change: { flagKey: 'payments.checkout' } });
    expect(classifyRest(m, raw('PATCH', '/api/flags/checkout?env=staging', { on: true }))).toMatchObject({ change: { flagKey: 'checkout' } });
    // Without the setting, a dotted key is a key.
    expect(classifyRest(compileMapping({ ...rest, formatSuffixes: false }, 'staging'), raw('PATCH', '/api/flags/payments.checkout?env=staging', { on: true }))).toMatchObject({ change: { flagKey: 'payments.checkout' } });
  });
});
