/**
 * Generated HTTP requests for fuzzing flaggate's two ports: methods, targets, headers, tokens and
 * bodies drawn from what the routes expect, bent in the ways hostile clients bend them, plus a share
 * of bytes that are not HTTP at all.
 */
import fc from 'fast-check';
import type { RawHttpRequest } from './raw-http.js';

/** The tokens a request may carry: valid ones for several roles, and forged or broken ones. */
export interface FuzzTokens {
  valid: string[];
  forged: string[];
}

export type FuzzRequest =
  | { port: 'proxy' | 'control'; kind: 'http'; request: RawHttpRequest }
  | { port: 'proxy' | 'control'; kind: 'bytes'; bytes: Buffer };

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'post', 'Delete', 'PROPFIND', 'BREW', 'M-SEARCH'];

const proxySegments = ['flags', 'checkout.new-flow', 'search.ranking-v2', 'payments.instant-payouts', 'fz-new', 'enable', 'disable', 'api', 'admin', 'FLAGS', 'x'];
const controlSegments = ['v1', 'audit', 'entries', 'verify', 'export', 'keys', 'checkpoints', 'tsa', 'certs', 'changes', 'approve', 'reject', 'healthz', 'readyz', 'metrics', 'cr-1'];

const oddSegment = fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%', '%zz', '#', '#x', '?', '?a=1&a=2', ';a=b', '~', '%E2%82%AC', '€', 'a'.repeat(300), '\\', '%5C', '*', '');

const arbSegment = (names: string[]): fc.Arbitrary<string> =>
  fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...names) }, { weight: 2, arbitrary: oddSegment }, { weight: 1, arbitrary: fc.webSegment() });

const arbQuery = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom('?after=0&limit=5', '?limit=-1', '?limit=1e9', '?after=abc', '?from=2020-01-01T00:00:00Z&to=x', '?flag=checkout.new-flow', '?a=1&a=2', '?a[b]=1', '?%zz', '?#') },
  { weight: 1, arbitrary: fc.webQueryParameters().map((q) => `?${q}`) },
);

const arbTarget = (names: string[]): fc.Arbitrary<string> =>
  fc.oneof(
    { weight: 10, arbitrary: fc.tuple(fc.array(arbSegment(names), { minLength: 0, maxLength: 5 }), fc.boolean(), arbQuery).map(([segs, slash, q]) => `/${segs.join('/')}${slash ? '/' : ''}${q}`) },
    { weight: 1, arbitrary: fc.constantFrom('*', 'http://127.0.0.1/flags', '//flags', `/${'a/'.repeat(2000)}`, '/flags/%ff%fe', '/flags/\u00e9') },
  );

const arbJsonBody: fc.Arbitrary<string> = fc.oneof(
  fc.record({ key: fc.constantFrom('fz-new', 'fz-other', '', 'a'.repeat(200), '../x'), state: fc.constantFrom('ENABLED', 'DISABLED', 'on'), variants: fc.constant({ on: true, off: false }), defaultVariant: fc.constantFrom('on', 'off', 'missing') }, { requiredKeys: [] }).map((v) => JSON.stringify(v)),
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('{"state":1e999}', '{"state":"\\ud800"}', `${'['.repeat(5000)}${']'.repeat(5000)}`, '{"a":1,"a":2}', '{', '', 'null', '\ufeff{}', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{}}}'),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
);

const arbContentType = fc.constantFrom(
  undefined, 'application/json', 'application/json; charset=utf-8', 'application/json; charset=utf-7', 'application/json; charset=utf-8; charset=utf-16le',
  'text/plain', 'application/timestamp-query', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', ';;;', 'application/json; charset="',
);

const arbAuthorization = (t: FuzzTokens): fc.Arbitrary<string | undefined> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...t.valid).map((v) => `Bearer ${v}`) },
    { weight: 3, arbitrary: fc.constantFrom(...t.forged).map((v) => `Bearer ${v}`) },
    { weight: 1, arbitrary: fc.constantFrom(undefined, 'Bearer', 'Bearer ', 'Basic YTpi', 'bearer x.y.z', `Bearer ${'a'.repeat(9000)}`, '*:*.not-a-token') },
  );

const arbExtraHeaders: fc.Arbitrary<Array<[string, string]>> = fc.array(
  fc.oneof(
    fc.constantFrom<[string, string]>(
      ['X-Flaggate-Reason', 'fuzz'], ['X-Flaggate-Ticket', 'FZ-1'], ['X-Flaggate-Reason', ''], ['X-Flaggate-Link-PR', 'javascript:alert(1)'],
      ['X-Flaggate-Approval', 'x.y.z'], ['Content-Encoding', 'gzip'], ['Content-Encoding', 'identity'],
      ['Connection', 'keep-alive, X-Flaggate-Reason'], ['Forwarded', 'for=1.2.3.4'], ['X-Forwarded-For', '1.2.3.4'],
      ['Accept', '*/*'], ['Host', ''], ['X-Flaggate-Reason', 'a'.repeat(20_000)],
    ),
    fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,20}$/), fc.string({ maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, ' '))),
  ),
  { maxLength: 4 },
);

const arbHttp = (t: FuzzTokens, port: 'proxy' | 'control'): fc.Arbitrary<FuzzRequest> =>
  fc.record({
    method: fc.constantFrom(...METHODS),
    target: arbTarget(port === 'proxy' ? proxySegments : controlSegments),
    authorization: arbAuthorization(t),
    contentType: arbContentType,
    headers: arbExtraHeaders,
    body: fc.option(arbJsonBody, { nil: undefined, freq: 3 }),
  }).map((r): FuzzRequest => {
    const headers: Array<[string, string]> = [];
    if (r.authorization !== undefined) headers.push(['Authorization', r.authorization]);
    if (r.contentType !== undefined) headers.push(['Content-Type', r.contentType]);
    headers.push(...r.headers);
    const body = r.body === undefined ? undefined : Buffer.from(r.body, 'utf8');
    return { port, kind: 'http', request: { method: r.method, target: r.target, headers, ...(body ? { body } : {}) } };
  });

/**
 * Bytes that are not one well-framed request: noise, bad request lines, and framing a server must
 * wait on or refuse (a body shorter than its Content-Length, Transfer-Encoding beside Content-Length,
 * `Expect: 100-continue` with no body). Such a connection may rightly end without a reply.
 */
const arbBytes = (port: 'proxy' | 'control'): fc.Arbitrary<FuzzRequest> =>
  fc.oneof(
    fc.uint8Array({ minLength: 1, maxLength: 200 }).map((b) => Buffer.from(b)),
    fc.constantFrom(
      'GET / HTTP/1.1\r\n\r\n', 'GET /flags HTTP/1.0\r\n\r\n', 'POST /flags HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{}',
      'GET /\0 HTTP/1.1\r\nHost: x\r\n\r\n', 'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
      'POST /flags HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      'POST /flags HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'POST /flags HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n',
      'POST /flags HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}', 'POST /flags HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n', `GET /${'a'.repeat(70_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
    ).map((s) => Buffer.from(s, 'latin1')),
  ).map((bytes): FuzzRequest => ({ port, kind: 'bytes', bytes }));

/** Requests for both ports; mostly well-formed HTTP, one in twelve raw bytes. */
export function arbFuzzRequest(tokens: FuzzTokens): fc.Arbitrary<FuzzRequest> {
  return fc.oneof(
    { weight: 8, arbitrary: arbHttp(tokens, 'proxy') },
    { weight: 3, arbitrary: arbHttp(tokens, 'control') },
    { weight: 1, arbitrary: fc.constantFrom<'proxy' | 'control'>('proxy', 'control').chain(arbBytes) },
  );
}
