import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FlaggateError } from '../../../src/errors.js';
import type { RawRequest } from '../../../src/intercept/raw-request.js';
import { classifyFlagsmith } from '../../../src/platforms/flagsmith/index.js';
import { loadRecordings, wireBody } from '../../support/flagsmith/recordings.js';

function raw(method: string, path: string, body?: string, contentType = 'application/json'): RawRequest {
  const bytes = Buffer.from(body ?? '', 'utf8');
  return { method, path, headers: body === undefined ? {} : { 'content-type': contentType }, body: bytes, bodySha256: createHash('sha256').update(bytes).digest('hex') };
}

const ENV = 'cixtMCKvBWcWy75rGMTNRL';

/** What each recorded write is, as flaggate classifies it (null: not a flag change, refused and recorded). */
const expected: Record<string, { action: string; flagKey: string; environment: string } | null | 'refused'> = {
  '001': null, '002': null, '003': null, '004': null, '005': null, '006': null, '024': null, '025': null, '034': null, '054': null, '068': null,
  '080': null, '081': null, '082': null, '084': null, '085': null,
  '009': { action: 'flag.create', flagKey: 'dark_mode', environment: '*' },
  '010': { action: 'flag.create', flagKey: 'checkout_colour', environment: '*' },
  '011': { action: 'flag.create', flagKey: 'old_banner', environment: '*' },
  '041': { action: 'identity_override.create', flagKey: 'feature:1', environment: ENV },
  '045': { action: 'flag.update', flagKey: 'feature:2', environment: ENV },
  '061': { action: 'flag.create', flagKey: 'Dark Mode', environment: '*' },
  '015': { action: 'flag.update', flagKey: 'feature:2', environment: '*' },
  '016': { action: 'flag.update', flagKey: 'feature:1', environment: '*' },
  '017': { action: 'flag.delete', flagKey: 'feature:3', environment: '*' },
  '021': { action: 'flag.enable', flagKey: 'feature-state:1', environment: ENV },
  '022': { action: 'flag.update', flagKey: 'feature-state:3', environment: ENV },
  '027': { action: 'segment_override.create', flagKey: 'feature:2', environment: ENV },
  '029': { action: 'segment_override.update', flagKey: 'feature-state:7', environment: '*' },
  '032': { action: 'segment_override.delete', flagKey: 'feature-segment:1', environment: '*' },
  '036': { action: 'identity_override.create', flagKey: 'feature:2', environment: ENV },
  '038': { action: 'identity_override.update', flagKey: 'feature-state:8', environment: ENV },
  '042': { action: 'identity_override.delete', flagKey: 'feature-state:9', environment: ENV },
  '044': { action: 'flag.update', flagKey: 'feature:2', environment: ENV },
  '047': { action: 'segment_override.delete', flagKey: 'feature:2', environment: ENV },
  '069': { action: 'flag.create', flagKey: 'pricing_page', environment: '*' },
  '071': { action: 'variant.create', flagKey: 'feature:5', environment: '*' },
  '072': { action: 'variant.update', flagKey: 'feature:5', environment: '*' },
  '074': { action: 'variant.delete', flagKey: 'feature:5', environment: '*' },
  // Flagsmith answers 200 and drops allocations sent with a PATCH of a feature state: refused, not recorded as applied.
  '076': 'refused',
  '078': { action: 'flag.update', flagKey: 'feature:1', environment: ENV },
  '088': { action: 'segment_override.update', flagKey: 'feature-state:13', environment: '*' },
};

describe('Flagsmith classification of the recorded exchanges', () => {
  const writes = loadRecordings().filter((r) => r.request.method !== 'GET' && r.response.status < 300);

  it.each(writes.map((r) => ({ file: r.file, r })))('$file', ({ file, r }) => {
    const want = expected[file.slice(0, 3)];
    expect(want, `add ${file} to the expected table`).not.toBeUndefined();
    if (want === 'refused') {
      expect(() => classifyFlagsmith(raw(r.request.method, r.request.path, wireBody(r)))).toThrow(expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' }));
      return;
    }
    const got = classifyFlagsmith(raw(r.request.method, r.request.path, wireBody(r)));
    if (want === null) {
      expect(got.kind).toBe('unrecognized');
      return;
    }
    expect(got.kind).toBe('write');
    if (got.kind !== 'write') return;
    expect(got.change).toMatchObject(want);
    // The forwarded request is the recorded one: same path, same body.
    expect(got.forward.target).toBe(r.request.path);
    expect(got.forward.body.toString()).toBe(wireBody(r) ?? '');
  });

  it('reads pass through with their query; administration does not', () => {
    expect(classifyFlagsmith(raw('GET', '/api/v1/projects/1/features/?environment=1'))).toMatchObject({ kind: 'read', forward: { target: '/api/v1/projects/1/features/?environment=1' } });
    for (const path of ['/api/v1/organisations/1/master-api-keys/', '/api/v1/users/', '/api/v1/environments/k/api-keys/', '/admin/']) {
      expect(() => classifyFlagsmith(raw('GET', path)), path).toThrow(FlaggateError);
    }
  });

  it('refuses bodies Flagsmith would read differently from what the entry records', () => {
    const cases: Array<[string, string, string | undefined, string]> = [
      // Django REST framework drops unknown fields silently: the entry would show a change that is not made.
      ['PATCH', `/api/v1/environments/${ENV}/featurestates/1/`, JSON.stringify({ enabled: true, enabeld: false }), 'ADAPT_BODY_MALFORMED'],
      ['PATCH', `/api/v1/environments/${ENV}/featurestates/1/`, '{"enabled":true,"enabled":false}', 'ADAPT_BODY_MALFORMED'],
      ['POST', '/api/v1/projects/1/features/', JSON.stringify({ default_enabled: true }), 'ADAPT_BODY_MALFORMED'],
      ['PATCH', '/api/v1/features/featurestates/7/', JSON.stringify({ enabled: false }), 'ADAPT_BODY_MALFORMED'],
      ['DELETE', '/api/v1/projects/1/features/3/', JSON.stringify({ id: 4 }), 'ADAPT_BODY_MALFORMED'],
      ['PATCH', '/api/v1/projects/1/features/1/?environment=2', JSON.stringify({ description: 'x' }), 'ADAPT_QUERY_REFUSED'],
      ['PATCH', '/api/v1/projects/1/features/1/', 'description=x', 'ADAPT_BODY_MALFORMED'],
      // A PATCH takes FeatureStateSerializerCreate, which drops allocations (recording 076).
      ['PATCH', `/api/v1/environments/${ENV}/identities/1/featurestates/8/`, JSON.stringify({ multivariate_feature_state_values: [] }), 'ADAPT_BODY_MALFORMED'],
    ];
    for (const [method, path, body, code] of cases) {
      expect(() => classifyFlagsmith(raw(method, path, body)), `${method} ${path} ${body}`).toThrow(expect.objectContaining({ code }));
    }
    expect(() => classifyFlagsmith(raw('PATCH', '/api/v1/projects/1/features/1/', 'description=x', 'application/x-www-form-urlencoded'))).toThrow(
      expect.objectContaining({ code: 'ADAPT_MEDIA_TYPE_UNSUPPORTED' }),
    );
  });

  it("takes a feature's read-only fields on update, as Flagsmith's clients send them back, but leaves them out of the new state", () => {
    for (const method of ['PUT', 'PATCH']) {
      const got = classifyFlagsmith(raw(method, '/api/v1/projects/1/features/2/', JSON.stringify({ name: 'renamed', default_enabled: false, initial_value: 'red', description: 'd' })));
      expect(got).toMatchObject({ kind: 'write', change: { action: 'flag.update', newState: { description: 'd' } } });
      if (got.kind === 'write') expect(Object.keys(got.change.newState as object)).toEqual(['description']);
    }
    const allocations = { multivariate_feature_state_values: [{ id: 1, multivariate_feature_option: 1, percentage_allocation: 50 }] };
    expect(classifyFlagsmith(raw('PUT', `/api/v1/environments/${ENV}/featurestates/13/`, JSON.stringify(allocations)))).toMatchObject({ kind: 'write', change: { newState: allocations } });
  });

  it('an id-shaped path with a name in it is no route, so it is refused as unrecognized', () => {
    expect(classifyFlagsmith(raw('DELETE', '/api/v1/projects/1/features/dark_mode/'))).toMatchObject({ kind: 'unrecognized' });
    expect(classifyFlagsmith(raw('DELETE', '/api/v1/projects/1/features/03/'))).toMatchObject({ kind: 'unrecognized' });
  });

  it('a featurestate change with only `enabled` is an enable or a disable', () => {
    const off = classifyFlagsmith(raw('PATCH', `/api/v1/environments/${ENV}/featurestates/1`, JSON.stringify({ enabled: false })));
    expect(off).toMatchObject({ kind: 'write', change: { action: 'flag.disable' }, forward: { target: `/api/v1/environments/${ENV}/featurestates/1/` } });
  });
});

describe("Flagsmith's own conversions (Django REST Framework)", () => {
  const STATE = `/api/v1/environments/${ENV}/featurestates/7/`;
  const NESTED = '/api/v1/features/featurestates/7/';
  const FUTURE = `/api/__future__/environments/${ENV}/features/2/`;
  const classify = (method: string, path: string, body: string) => () => classifyFlagsmith(raw(method, path, body));
  const malformed = expect.objectContaining({ code: 'ADAPT_BODY_MALFORMED' });

  it.each([
    ['enabled as "false" (a BooleanField reads it as false; the entry would hold a truthy string)', 'PATCH', STATE, '{"enabled":"false"}'],
    ['enabled as 0', 'PATCH', STATE, '{"enabled":0}'],
    ['a value with surrounding whitespace (a CharField trims it)', 'PATCH', STATE, '{"feature_state_value":"  green "}'],
    ['a value written as a float (stored as the string "100.0")', 'PATCH', STATE, '{"feature_state_value":100.0}'],
    ['a value written with an exponent', 'PATCH', STATE, '{"feature_state_value":1e2}'],
    ['a fractional value', 'PATCH', STATE, '{"feature_state_value":1.5}'],
    ['a value beyond 32 bits', 'PATCH', STATE, '{"feature_state_value":2147483648}'],
    ['an object value with a padded string', 'PATCH', NESTED, '{"environment":1,"feature":2,"feature_state_value":{"type":"unicode","string_value":" x"}}'],
    ['an object value on an environment\'s feature state (a 400 after the rest is stored)', 'PATCH', STATE, '{"feature_state_value":{"type":"unicode","string_value":"x"}}'],
    ['an object value on an identity override\'s create (a 201 without the value)', 'POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, '{"feature":2,"enabled":true,"feature_state_value":{"type":"unicode","string_value":"x"}}'],
    ['tags as an object (DRF takes its keys as the ids)', 'PATCH', '/api/v1/projects/1/features/2/', '{"tags":{"6":0}}'],
    ['owners as an object', 'POST', '/api/v1/projects/1/features/', '{"name":"f","owners":{"1":null}}'],
    ['a percentage as "NaN"', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"multivariate_feature_option":1,"percentage_allocation":"NaN"}]}'],
    ['an id as a string', 'PATCH', NESTED, '{"environment":"1","feature":2,"enabled":true}'],
    ['a future integer value with underscores', 'PUT', FUTURE, '{"environment_default":{"enabled":true,"value":{"type":"integer","value":"4_2"}}}'],
    ['a future boolean value in capitals', 'PUT', FUTURE, '{"environment_default":{"enabled":true,"value":{"type":"boolean","value":"TRUE"}}}'],
    // The __future__ serializers read only their own members at each level, and drop the rest (a real Flagsmith 2.265.0 stored none of these).
    ['a misspelled member of a future default', 'PATCH', FUTURE, '{"environment_default":{"enabled":true,"valeu":{"type":"string","value":"typo"}}}'],
    ['a second spelling of enabled in a future default', 'PATCH', FUTURE, '{"environment_default":{"enabled":true,"Enabled":false}}'],
    ['a future value with a member besides type and value', 'PATCH', FUTURE, '{"environment_default":{"enabled":true,"value":{"type":"string","value":"shown","string_value":"not-stored"}}}'],
    ['a future segment override naming a feature segment', 'PATCH', FUTURE, '{"segment_overrides":[{"segment":{"id":2},"enabled":true,"value":{"type":"string","value":"v"},"priority":0,"feature_segment":99}]}'],
    ['a future segment reference with a name', 'PATCH', FUTURE, '{"segment_overrides":[{"segment":{"id":2,"name":"ignored"},"enabled":true,"value":{"type":"string","value":"v"},"priority":0}]}'],
    ['a future variant with a member besides id and weight', 'PATCH', FUTURE, '{"environment_default":{"variants":[{"id":101,"weight":60,"percentage_allocation":10}]}}'],
    ['a future segment priority as a string', 'PUT', FUTURE, '{"segment_overrides":[{"segment":{"id":2},"priority":"0","enabled":true}]}'],
    // Each override's segment is read before deciding: no more than Flagsmith's own limit of overrides.
    ['more future segment overrides than Flagsmith allows (100)', 'PATCH', FUTURE, JSON.stringify({ segment_overrides: Array.from({ length: 101 }, (_, i) => ({ segment: { id: i + 1 }, enabled: true })) })],
    ['a feature\'s initial value as a boolean (stored as the text "True")', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":true}'],
    ['a future PUT of the default without enabled (reset to false)', 'PUT', FUTURE, '{"environment_default":{"value":{"type":"string","value":"x"}}}'],
    ['is_server_key_only as "on" (a BooleanField: hidden from client keys)', 'PATCH', '/api/v1/projects/1/features/2/', '{"is_server_key_only":"on"}'],
    ['is_archived as 1', 'PATCH', '/api/v1/projects/1/features/2/', '{"is_archived":1}'],
    ['a state\'s feature as true (the primary key int(True), feature 1)', 'PATCH', STATE, '{"feature":true,"enabled":true}'],
    ['tags as strings and fractions (Django reads int("6") and int(5.5))', 'PATCH', '/api/v1/projects/1/features/2/', '{"tags":[5.5,"6"]}'],
    ['a group owner as a fraction', 'POST', '/api/v1/projects/1/features/', '{"name":"f","group_owners":[4.9]}'],
    ['a metadata field named by a string', 'POST', '/api/v1/projects/1/features/', '{"name":"f","metadata":[{"model_field":"1","field_value":"x"}]}'],
    ['an option\'s key padded (a CharField strips it)', 'POST', '/api/v1/projects/1/features/2/mv-options/', '{"type":"unicode","string_value":"b","default_percentage_allocation":10,"key":" blue "}'],
    ['an option\'s key as a number (stored as "7")', 'POST', '/api/v1/projects/1/features/2/mv-options/', '{"type":"unicode","string_value":"b","default_percentage_allocation":10,"key":7}'],
    ['a key on a feature\'s nested option (read-only there: dropped)', 'POST', '/api/v1/projects/1/features/', '{"name":"f","multivariate_options":[{"type":"unicode","string_value":"a","default_percentage_allocation":30,"key":"blue"}]}'],
    ['a uuid on a feature\'s nested option', 'PUT', '/api/v1/projects/1/features/2/', '{"multivariate_options":[{"type":"unicode","string_value":"a","default_percentage_allocation":30,"uuid":"x"}]}'],
    // Each environment's default is int(initial_value) when it parses: served as 12, recorded as written.
    ['an initial value of 1_2', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"1_2"}'],
    ['an initial value in fullwidth digits', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"\uff11\uff12"}'],
    ['an initial value with a plus sign', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"+7"}'],
    ['an initial value with a leading zero', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"007"}'],
    ['an initial value of -0', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"-0"}'],
    ['a 32-bit initial value with a plus sign', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"+2147483646"}'],
    // ... and the boolean "True" names when it is one of Python's spellings (a real Flagsmith 2.265.0 serves true).
    ['an initial value of True', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"True"}'],
    ['an initial value of False', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"False"}'],
    // Checked while saving, after the state's value: a real Flagsmith answers 400 with that value changed.
    ['an allocation over 100', 'PUT', STATE, '{"feature":2,"enabled":false,"feature_state_value":"changed","multivariate_feature_state_values":[{"id":1,"multivariate_feature_option":4,"percentage_allocation":101}]}'],
    ['a negative allocation', 'PATCH', NESTED, '{"environment":1,"feature":2,"multivariate_feature_state_values":[{"id":1,"multivariate_feature_option":4,"percentage_allocation":-1}]}'],
    ['allocations adding up past 100', 'PUT', `/api/v1/environments/${ENV}/identities/3/featurestates/7/`, '{"feature":2,"enabled":true,"feature_state_value":"x","multivariate_feature_state_values":[{"multivariate_feature_option":4,"percentage_allocation":70},{"multivariate_feature_option":5,"percentage_allocation":70}]}'],
    // drf-writable-nested saves a row named twice once per copy (the last wins); "1.0" fails its str(pk) lookup after the outer row is saved.
    ['one allocation row named twice', 'PATCH', NESTED, '{"environment":1,"feature":2,"multivariate_feature_state_values":[{"id":1,"percentage_allocation":90},{"id":1,"percentage_allocation":10}]}'],
    ['one future variant named twice', 'PATCH', FUTURE, '{"environment_default":{"variants":[{"id":101,"weight":60},{"id":101,"weight":10},{"id":103,"weight":30}]}}'],
    ['a nested row id written as 1.0', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"id":1.0,"multivariate_feature_option":4,"percentage_allocation":10}]}'],
    ['a feature\'s nested option with a member Flagsmith drops', 'PUT', '/api/v1/projects/1/features/2/', '{"multivariate_options":[{"type":"unicode","string_value":"x","value":"shown","default_percentage_allocation":10}]}'],
    ['a value type named after an object\'s own property', 'PUT', '/api/v1/projects/1/features/2/', '{"multivariate_options":[{"type":"constructor","string_value":"x","default_percentage_allocation":10}]}'],
    // DRF's CharField refuses U+0000: on a new identity override the value is dropped and the override answered 201.
    ['a value holding U+0000', 'POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, '{"feature":2,"enabled":true,"feature_state_value":"a\\u0000b"}'],
    ['a new segment override without enabled (stored false)', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"feature_segment":{"segment":3},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['a new identity override without enabled (stored false)', 'POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, '{"feature":2,"feature_state_value":"x"}'],
    ['a new identity override\'s value past FEATURE_VALUE_LIMIT (dropped, answered 201)', 'POST', `/api/v1/environments/${ENV}/identities/3/featurestates/`, `{"feature":2,"enabled":true,"feature_state_value":"${'a'.repeat(20_001)}"}`],
    ['an allocation with a member Flagsmith drops', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"multivariate_feature_option":1,"percentage_allocation":10,"weight":90}]}'],
    // A real Flagsmith 2.265.0 answers 500 and stores nothing.
    ['a new segment override without a feature segment', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['a new segment override with a null feature segment', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":null,"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    // The feature route checks a new option's default only against the body's defaults, not each environment's allocations.
    ['a new option in a feature update', 'PUT', '/api/v1/projects/1/features/2/', '{"metadata":[],"multivariate_options":[{"id":7,"type":"unicode","string_value":"a","default_percentage_allocation":30},{"type":"unicode","string_value":"c","default_percentage_allocation":10}]}'],
    ['a new option in a feature patch', 'PATCH', '/api/v1/projects/1/features/2/', '{"multivariate_options":[{"type":"unicode","string_value":"c","default_percentage_allocation":10}]}'],
    ['a new segment override whose feature segment names a null segment', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":null},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['allocations adding up past 100 only as Python 3.11 adds them', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"multivariate_feature_option":4,"percentage_allocation":0.01},{"multivariate_feature_option":5,"percentage_allocation":64.9},{"multivariate_feature_option":6,"percentage_allocation":35.09}]}'],
    ['a new segment override whose feature segment names no segment', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['a new segment override\'s feature segment with a member Flagsmith drops', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3,"environment":2},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['a new nested option without its percentage (100% in every environment)', 'PATCH', '/api/v1/projects/1/features/2/', '{"multivariate_options":[{"type":"unicode","string_value":"B"}]}'],
    ['a standard type beside options (stored as multivariate)', 'PATCH', '/api/v1/projects/1/features/2/', '{"type":"STANDARD","multivariate_options":[{"type":"unicode","string_value":"B","default_percentage_allocation":10}]}'],
    ['a future integer value of -0', 'PUT', FUTURE, '{"environment_default":{"enabled":true,"value":{"type":"integer","value":"-0"}}}'],
    ['a future variant named by pk (dropped)', 'PATCH', FUTURE, '{"environment_default":{"variants":[{"id":101,"pk":102,"weight":10}]}}'],
    // A FloatField is Python's float(): float(True) is 1.0.
    ['a percentage as true (stored as 1.0)', 'POST', '/api/v1/projects/1/features/2/mv-options/', '{"feature":2,"type":"unicode","string_value":"b","default_percentage_allocation":true}'],
    ['an allocation as false (stored as 0.0)', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"multivariate_feature_option":1,"percentage_allocation":false}]}'],
    // A value member left out keeps the row's (or the initial value's), and the type names the one served.
    ['a value object without its type (the row keeps its own)', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3},"feature_state_value":{"string_value":"x"}}'],
    ['a value object without the member its type serves', 'PATCH', NESTED, '{"environment":1,"feature":2,"feature_state_value":{"type":"int"}}'],
    ['a value object with a member Flagsmith drops', 'PATCH', NESTED, '{"environment":1,"feature":2,"feature_state_value":{"type":"unicode","string_value":null,"value":"shown"}}'],
    ['a value object naming a row (saved over it, wherever it is)', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3},"feature_state_value":{"id":41,"type":"unicode","string_value":"x"}}'],
    ['a value object of an unknown type', 'PATCH', NESTED, '{"environment":1,"feature":2,"feature_state_value":{"type":"float","string_value":"1.5"}}'],
    ['an option whose type is sent without its value (the option keeps its old one)', 'PUT', '/api/v1/projects/1/features/2/mv-options/9/', '{"feature":2,"type":"int","default_percentage_allocation":10}'],
    ['an option\'s value without its type', 'PATCH', '/api/v1/projects/1/features/2/mv-options/9/', '{"string_value":"x"}'],
    ['a feature\'s nested option without the member its type serves', 'POST', '/api/v1/projects/1/features/', '{"name":"f","multivariate_options":[{"type":"bool","default_percentage_allocation":30}]}'],
    // The first allocation is stored, then the second fails (500) with the override half made.
    ['one option allocated twice', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3},"feature_state_value":{"type":"unicode","string_value":"x"},"multivariate_feature_state_values":[{"multivariate_feature_option":4,"percentage_allocation":10},{"multivariate_feature_option":4,"percentage_allocation":20}]}'],
    // A priority moves the overrides already there (django-ordered-model's to()); a uuid is dropped.
    ['a new segment override\'s priority', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3,"priority":0},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
    ['a new segment override\'s uuid', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3,"uuid":"0f0f0f0f-0000-4000-8000-000000000000"},"feature_state_value":{"type":"unicode","string_value":"on"}}'],
  ])('refuses %s', (_name, method, path, body) => {
    expect(classify(method, path, body)).toThrow(malformed);
  });

  /** Every character Python's `str.strip()` strips, as the Python on this machine says (DRF's CharField strips with it). */
  let listed: string[] | undefined;
  const pythonWhitespace = (): string[] => {
    if (listed) return listed;
    const out = spawnSync('python3', ['-c', 'import json; print(json.dumps([c for c in range(0x110000) if chr(c).isspace()]))'], { encoding: 'utf8' });
    return (listed = (JSON.parse(out.stdout) as number[]).map((c) => String.fromCodePoint(c)));
  };
  const FEATURES = '/api/v1/projects/1/features/';
  const texts: Array<[string, string, string, (text: unknown) => unknown]> = [
    ['a plain value', 'PATCH', STATE, (t) => ({ feature_state_value: t })],
    ['a value object\'s string', 'PATCH', NESTED, (t) => ({ environment: 1, feature: 2, feature_state_value: { type: 'unicode', string_value: t } })],
    ['a future string value', 'PUT', FUTURE, (t) => ({ environment_default: { enabled: true, value: { type: 'string', value: t } } })],
    ["a feature's initial value", 'POST', FEATURES, (t) => ({ name: 'f', initial_value: t })],
    ["a feature's description", 'POST', FEATURES, (t) => ({ name: 'f', description: t })],
    ["a variation's string", 'POST', FEATURES, (t) => ({ name: 'f', multivariate_options: [{ type: 'unicode', string_value: t, default_percentage_allocation: 10 }] })],
    ["a metadata field's value", 'POST', FEATURES, (t) => ({ name: 'f', metadata: [{ model_field: 1, field_value: t }] })],
  ];

  it.each(texts)("refuses %s with any of Python's whitespace at either end, which JavaScript's trim partly keeps", (_name, method, path, body) => {
    const spaces = pythonWhitespace();
    expect(spaces).toEqual(expect.arrayContaining(['\x1c', '\x1f', '\x85', ' ']));
    for (const space of spaces) {
      for (const text of [`${space}green`, `green${space}`]) expect(classify(method, path, JSON.stringify(body(text))), JSON.stringify(text)).toThrow(malformed);
    }
    // Inside the text it stays, and a number would be stored as its text.
    expect(classify(method, path, JSON.stringify(body('gr\x1feen')))).not.toThrow();
    if (method === 'POST') expect(classify(method, path, JSON.stringify(body(5)))).toThrow(malformed);
  });

  it.each([
    ['a boolean, a plain string, an integer, null', 'PATCH', STATE, '{"enabled":false,"feature_state_value":"green"}'],
    ['an integer value', 'PATCH', STATE, '{"feature_state_value":100}'],
    ['a value as Flagsmith\'s clients send it', 'PATCH', NESTED, '{"environment":1,"feature":2,"feature_state_value":{"type":"unicode","string_value":"purple","integer_value":null,"boolean_value":null}}'],
    ['tags, owners and an option key as Flagsmith stores them', 'POST', '/api/v1/projects/1/features/', '{"name":"f","tags":[5,6],"owners":[1],"group_owners":[],"is_server_key_only":false}'],
    ['an option\'s key through mv-options', 'POST', '/api/v1/projects/1/features/2/mv-options/', '{"type":"unicode","string_value":"b","default_percentage_allocation":10,"key":"blue"}'],
    ['an initial value in plain digits', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"-12"}'],
    ['a phone number as an initial value (beyond 32 bits, served as written)', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"+14155550123"}'],
    ['an initial value at the 32-bit bound with a leading zero (served as written)', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"02147483647"}'],
    ['an initial value that is text', 'POST', '/api/v1/projects/1/features/', '{"name":"f","initial_value":"v1_2"}'],
    ['an option\'s percentage alone', 'PATCH', '/api/v1/projects/1/features/2/mv-options/9/', '{"default_percentage_allocation":25}'],
    ['a new segment override as Flagsmith\'s clients send it', 'POST', `/api/v1/environments/${ENV}/features/2/create-segment-override/`, '{"enabled":true,"feature_segment":{"segment":3},"feature_state_value":{"type":"bool","string_value":null,"integer_value":null,"boolean_value":true},"multivariate_feature_state_values":[{"multivariate_feature_option":4,"percentage_allocation":10},{"multivariate_feature_option":5,"percentage_allocation":20}]}'],
    ['a fractional percentage', 'PUT', STATE, '{"feature":2,"enabled":true,"multivariate_feature_state_values":[{"multivariate_feature_option":1,"percentage_allocation":33.3}]}'],
    ['future values as stored', 'PUT', FUTURE, '{"environment_default":{"enabled":true,"value":{"type":"integer","value":"-42"}},"segment_overrides":[{"segment":{"id":2},"priority":0,"enabled":false,"value":{"type":"boolean","value":"false"}}]}'],
  ])('takes %s', (_name, method, path, body) => {
    expect(classify(method, path, body)).not.toThrow();
  });
});
