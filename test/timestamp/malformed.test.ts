import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { buildTimeStampReq, createEmbeddedTsa, parseTimeStampReq, parseTimeStampResp, verifyTimestampToken } from '../../src/timestamp/index.js';
import type { EmbeddedTsa } from '../../src/timestamp/index.js';
import { algorithm, int, nul, octets, seq, toDer } from '../../src/timestamp/der.js';
import { makeTempDir } from '../support/temp-dir.js';

const digest = '77'.repeat(32);
const tmp = makeTempDir('flaggate-tsa-malformed-');
let tsa: EmbeddedTsa;
let request: Buffer;
let response: Buffer;

beforeAll(async () => {
  tsa = createEmbeddedTsa({ dataDir: tmp.dir, clock: systemClock });
  request = buildTimeStampReq({ digest }).der;
  response = await tsa.respond(request);
});
afterAll(() => tmp.cleanup());

/** Re-encodes the outer header of a short-form DER object with another length form. */
function withOuterHeader(der: Buffer, form: 'indefinite' | 'non-minimal'): Buffer {
  const long = der[1]! & 0x80 ? 1 + (der[1]! & 0x7f) : 1;
  const body = der.subarray(1 + long);
  if (form === 'indefinite') return Buffer.concat([Buffer.from([der[0]!, 0x80]), body, Buffer.from([0, 0])]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(body.length);
  return Buffer.concat([Buffer.from([der[0]!, 0x84]), len, body]);
}

const nested = (depth: number): Buffer => {
  let b = Buffer.from([0x05, 0x00]);
  for (let i = 0; i < depth; i++) b = Buffer.concat([Buffer.from([0x30, b.length]), b]);
  return b;
};

const mutations: { name: string; mutate: (der: Buffer) => Buffer }[] = [
  { name: 'it is empty', mutate: () => Buffer.alloc(0) },
  { name: 'it is truncated', mutate: (d) => d.subarray(0, d.length - 3) },
  { name: 'it has trailing bytes', mutate: (d) => Buffer.concat([d, Buffer.from([0x00])]) },
  { name: 'the outer tag is wrong', mutate: (d) => Buffer.concat([Buffer.from([0x31]), d.subarray(1)]) },
  { name: 'the length is indefinite', mutate: (d) => withOuterHeader(d, 'indefinite') },
  { name: 'the length is not minimal', mutate: (d) => withOuterHeader(d, 'non-minimal') },
  { name: 'it is oversized', mutate: (d) => Buffer.concat([d, Buffer.alloc(300 * 1024)]) },
  { name: 'it nests too deep', mutate: () => nested(40) },
  { name: 'it is not ASN.1', mutate: () => Buffer.from('GET / HTTP/1.1\r\n\r\n') },
];

describe('parseTimeStampReq', () => {
  it('round-trips a request it built', () => {
    const { der, nonce } = buildTimeStampReq({ digest, reqPolicy: '1.2.3.4.1' });
    expect(parseTimeStampReq(der)).toMatchObject({ version: 1, hashAlgorithm: 'sha256', nonce, certReq: true, reqPolicy: '1.2.3.4.1', extensionCount: 0 });
  });

  it.each(mutations)('rejects a request when $name', ({ mutate }) => {
    expect(() => parseTimeStampReq(mutate(request))).toThrow(expect.objectContaining({ code: 'TIMESTAMP_INVALID', reason: 'TSA_MALFORMED' }));
  });

  it('rejects a request with TSA_ALGORITHM_UNSUPPORTED when the hash is unknown', () => {
    const md5 = toDer(seq([int(1), seq([algorithm('1.2.840.113549.2.5', nul()), octets(Buffer.alloc(16))]), int(5)]));
    expect(() => parseTimeStampReq(md5)).toThrow(expect.objectContaining({ reason: 'TSA_ALGORITHM_UNSUPPORTED' }));
  });

  it('rejects a request when the imprint length does not fit the hash', () => {
    const short = toDer(seq([int(1), seq([algorithm('2.16.840.1.101.3.4.2.1', nul()), octets(Buffer.alloc(20))])]));
    expect(() => parseTimeStampReq(short)).toThrow(expect.objectContaining({ reason: 'TSA_MALFORMED' }));
  });
});

describe('createEmbeddedTsa respond', () => {
  it.each([
    ...mutations.map((m) => ({ name: m.name, der: () => m.mutate(request), failInfo: 'badDataFormat' })),
    { name: 'the hash is unknown', der: () => toDer(seq([int(1), seq([algorithm('1.2.840.113549.2.5', nul()), octets(Buffer.alloc(16))])])), failInfo: 'badAlg' },
    { name: 'the policy is not offered', der: () => buildTimeStampReq({ digest, reqPolicy: '1.2.3.4.99' }).der, failInfo: 'unacceptedPolicy' },
  ])('answers a rejection when $name', async ({ der, failInfo }) => {
    const reply = await tsa.respond(der());
    expect(() => parseTimeStampResp(reply)).toThrow(expect.objectContaining({ reason: 'TSA_STATUS_REJECTED', details: expect.objectContaining({ status: 2, failInfo: [failInfo] }) }));
  });
});

describe('verifyTimestampToken on malformed replies', () => {
  it.each(mutations)('rejects a reply when $name', ({ mutate }) => {
    expect(() => verifyTimestampToken(mutate(response), { trustAnchorsPem: tsa.trustAnchorPem(), digest })).toThrow(
      expect.objectContaining({ code: 'TIMESTAMP_INVALID', reason: 'TSA_MALFORMED' }),
    );
  });

  it('rejects a granted reply with TSA_MALFORMED when it carries no token', () => {
    const bare = toDer(seq([seq([int(0)])]));
    expect(() => verifyTimestampToken(bare, { trustAnchorsPem: tsa.trustAnchorPem(), digest })).toThrow(expect.objectContaining({ reason: 'TSA_MALFORMED' }));
  });
});
