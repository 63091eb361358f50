/**
 * The contract every platform plug-in passes, whatever it governs: classification is pure, the
 * request it rebuilds is exactly what its change records, that request means the same change when
 * read again, and hostile spellings of a recognized request are refused with a 4xx code, never
 * forwarded as something else. Generated variants (fast-check) probe the same properties.
 */
import { createHash } from 'node:crypto';
import { fc, test as fcTest } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/audit/canonical.js';
import { FlaggateError } from '../../src/errors.js';
import type { RawRequest } from '../../src/intercept/raw-request.js';
import { platformPlugins, type Classification, type DecidedRequest, type Platform } from '../../src/platforms/index.js';
import { platformSamples, platformSettings, type SampleRequest } from './samples.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function raw(method: string, target: string, headers: Record<string, string> = {}, body: Buffer | string = ''): RawRequest {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return { method, path: target, headers, body: bytes, bodySha256: sha256(bytes) };
}
const fromSample = (s: SampleRequest) => raw(s.method, s.target, s.headers ?? {}, s.body ?? '');

/** The request the platform receives, as a client request again. */
function asRaw(d: DecidedRequest): RawRequest {
  return raw(d.method, d.target, d.contentType === null ? {} : { 'content-type': d.contentType }, d.body);
}

/** Classification minus the previous state, which comes from the platform, not the request. */
function meaning(c: Classification): string {
  if (c.kind === 'read') return canonicalJson(c.read);
  if (c.kind === 'unrecognized') return canonicalJson(c);
  const { previousState: _ignored, ...change } = c.change;
  return canonicalJson(change);
}

async function platformOf(name: string): Promise<Platform> {
  const plugin = platformPlugins.find((p) => p.name === name)!;
  return plugin.create({ name, targetUrl: name === 'flagd' ? '/nonexistent/flags.json' : 'http://127.0.0.1:1', targetToken: 't', environment: 'production', timeoutMs: 1000, ...platformSettings[name] });
}

/** Either a refusal with a client-error code, or a write whose rebuilt request means the same change. */
function holdsContract(platform: Platform, req: RawRequest): void {
  let got: Classification;
  try {
    got = platform.classify(req);
  } catch (err) {
    expect(err).toBeInstanceOf(FlaggateError);
    expect((err as FlaggateError).status).toBeGreaterThanOrEqual(400);
    expect((err as FlaggateError).status).toBeLessThan(500);
    return;
  }
  if (got.kind === 'unrecognized') return;
  const { forward } = got;
  expect(forward.bodySha256).toBe(sha256(forward.body));
  expect(forward.target.startsWith('/') && !forward.target.includes('#')).toBe(true);
  if (got.kind === 'write') {
    expect(got.change.request).toEqual({ method: forward.method, path: forward.target, bodySha256: forward.bodySha256 });
    expect(got.change.platform).toBe(platform.name);
  }
  // What the platform will receive, read again, is the same decision.
  expect(meaning(platform.classify(asRaw(forward)))).toBe(meaning(got));
}

describe.each(platformPlugins.map((p) => ({ name: p.name })))('platform contract: $name', ({ name }) => {
  const samples = platformSamples[name];

  it('has samples for the contract suite', () => {
    expect(samples, `add samples for ${name} to test/platforms/samples.ts`).toBeDefined();
    expect(samples!.writes.length).toBeGreaterThan(0);
  });

  it.each(samples?.writes ?? [])('write "$name": pure, recorded as forwarded, and the same when read again', async (sample) => {
    const platform = await platformOf(name);
    const first = platform.classify(fromSample(sample));
    expect(first.kind).toBe('write');
    expect(meaning(platform.classify(fromSample(sample)))).toBe(meaning(first));
    holdsContract(platform, fromSample(sample));
  });

  it.each(samples?.reads ?? [])('read "$name": forwarded without a body, or (a POST that changes nothing) with its own', async (sample) => {
    const platform = await platformOf(name);
    const got = platform.classify(fromSample(sample));
    if (sample.body === undefined) {
      expect(got).toMatchObject({ kind: 'read', forward: { method: sample.method, contentType: null, body: Buffer.alloc(0) } });
      return;
    }
    expect(got).toMatchObject({ kind: 'read', forward: { method: sample.method, body: Buffer.from(sample.body) } });
    if (got.kind === 'read') expect(got.forward.bodySha256).toBe(sha256(got.forward.body));
  });

  it.each(samples?.writes ?? [])('write "$name": hostile spellings are refused', async (sample) => {
    const platform = await platformOf(name);
    const r = fromSample(sample);
    const refusals: RawRequest[] = [
      raw(r.method, `${r.path}#/x`, r.headers, r.body),
      raw(r.method, `${r.path}${r.path.includes('?') ? '&' : '?'}zz=1&zz=2`, r.headers, r.body),
      raw(r.method, r.path.replace(/\/([^/?]+)/, '/$1/..'), r.headers, r.body),
    ];
    if (r.body.length > 0) {
      refusals.push(
        raw(r.method, r.path, { ...r.headers, 'content-type': 'application/json; charset=utf-8; charset=utf-7' }, r.body),
        raw(r.method, r.path, r.headers, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), r.body])),
        raw(r.method, r.path, r.headers, r.body.toString().replace(/\{/, '{"__dup":1,"__dup":2,')),
        raw(r.method, r.path, r.headers, r.body.toString().replace(/\{/, '{"__n":1e999,')),
        raw(r.method, r.path, r.headers, r.body.toString().replace(/\{/, '{"__n":9007199254740993,')),
      );
    }
    for (const req of refusals) {
      expect(() => platform.classify(req), `${req.method} ${req.path} ${req.headers['content-type'] ?? ''}`).toThrow(FlaggateError);
    }
  });

  // Generated spellings of each sample: percent-encoding, case, trailing slash, a query, a header.
  const mutation = fc.record({
    encode: fc.array(fc.nat(), { maxLength: 4 }),
    upper: fc.array(fc.nat(), { maxLength: 4 }),
    slash: fc.boolean(),
    query: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
    contentType: fc.option(fc.constantFrom('application/json', 'Application/JSON; charset="UTF-8"', 'application/json;charset=utf-16', 'text/plain', 'application/json; a=b'), { nil: undefined }),
    sample: fc.nat(),
  });

  fcTest.prop([mutation], { numRuns: 300, seed: 20261205 })('generated variants are refused or mean what is forwarded', async (m) => {
    const platform = await platformOf(name);
    const list = samples!.writes;
    const s = list[m.sample % list.length]!;
    let target = s.target;
    for (const i of m.encode) {
      const at = i % target.length;
      const c = target[at]!;
      if (/[A-Za-z0-9.-]/.test(c)) target = `${target.slice(0, at)}%${c.charCodeAt(0).toString(16).toUpperCase()}${target.slice(at + 1)}`;
    }
    for (const i of m.upper) {
      const at = i % target.length;
      target = target.slice(0, at) + target[at]!.toUpperCase() + target.slice(at + 1);
    }
    if (m.slash && !target.includes('?')) target += '/';
    if (m.query !== undefined) target += (target.includes('?') ? '&' : '?') + m.query;
    const headers = { ...(s.headers ?? {}), ...(m.contentType && s.body ? { 'content-type': m.contentType } : {}) };
    holdsContract(platform, raw(s.method, target, headers, s.body ?? ''));
  });
});
