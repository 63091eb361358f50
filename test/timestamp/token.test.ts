import { createPrivateKey } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.js';
import { buildTimeStampReq, createEmbeddedTsa, verifyTimestampToken } from '../../src/timestamp/index.js';
import type { EmbeddedTsa, VerifyTokenOptions } from '../../src/timestamp/index.js';
import { readPemCerts } from '../../src/timestamp/cert-info.js';
import { OID } from '../../src/timestamp/oids.js';
import { signTimestampToken } from '../../src/timestamp/signer.js';
import { buildTstInfo } from '../../src/timestamp/tst-info.js';
import { makeOpensslPki, openssl, startOpensslTsa } from '../support/openssl-tsa.js';
import type { OpensslPki } from '../support/openssl-tsa.js';
import { makeTempDir } from '../support/temp-dir.js';

const digest = '5e'.repeat(32);
const tmp = makeTempDir('flaggate-tsa-token-');
let tsa: EmbeddedTsa;
let pki: OpensslPki;
let granted: { resp: Buffer; nonce: bigint };

/** A token signed by our CMS code path with a certificate and key made by openssl. */
function signWith(pair: { keyPem: string; certPem: string }, o: { genTime?: Date; pss?: boolean } = {}): Buffer {
  const cert = readPemCerts(pair.certPem)[0]!;
  const tstInfoDer = buildTstInfo({
    policy: '1.2.3.4.1', hashOid: OID.sha256, imprint: Buffer.from(digest, 'hex'), serial: 7n,
    genTime: o.genTime ?? new Date(), accuracy: { seconds: 1 }, nonce: 42n,
  });
  return signTimestampToken({ tstInfoDer, key: createPrivateKey(pair.keyPem), cert, certificates: [cert.der], pss: o.pss ?? false });
}

function flipGenTimeDigit(der: Buffer, genTimeIso: string): Buffer {
  const g = genTimeIso.replace(/[-:T]/g, '').slice(0, 14);
  const at = der.indexOf(Buffer.from(g, 'latin1'));
  if (at < 0) throw new TypeError('genTime not found');
  const out = Buffer.from(der);
  out[at + 13] = 0x30 + ((out[at + 13]! - 0x30 + 1) % 10);
  return out;
}

beforeAll(async () => {
  tsa = createEmbeddedTsa({ dataDir: tmp.dir, clock: systemClock });
  mkdirSync(join(tmp.dir, 'pki'));
  pki = await makeOpensslPki(join(tmp.dir, 'pki'));
  const { der, nonce } = buildTimeStampReq({ digest });
  granted = { resp: await tsa.respond(der), nonce };
});

afterAll(() => tmp.cleanup());

describe('verifyTimestampToken', () => {
  const trust = (): VerifyTokenOptions => ({ trustAnchorsPem: tsa.trustAnchorPem(), digest, nonce: granted.nonce });

  it('accepts a granted reply and returns TSTInfo and the signer certificate', () => {
    const v = verifyTimestampToken(granted.resp, trust());
    expect(v.tstInfo).toMatchObject({ imprint: digest, nonce: granted.nonce.toString(), policy: tsa.policyOid, ordering: false, accuracy: { seconds: 1 } });
    expect(v.signerCert.subject).toContain('CN=flaggate embedded TSA');
    expect(v.chain).toHaveLength(2);
  });

  it('accepts the bare token as well as the TimeStampResp', () => {
    const { token } = verifyTimestampToken(granted.resp, trust());
    expect(verifyTimestampToken(token, trust()).tstInfo.imprint).toBe(digest);
  });

  it('accepts an RSA-PSS token (openssl ts cannot sign PSS; built by our signer, checked by openssl cms)', async () => {
    const pair = await pki.issue('pss', { keyType: 'rsa' });
    const token = signWith(pair, { pss: true });
    expect(verifyTimestampToken(token, { trustAnchorsPem: pki.caPem, digest }).tstInfo.nonce).toBe('42');
    writeFileSync(join(tmp.dir, 'pss.tst'), token);
    // openssl ts verifies through PKCS7, which ignores PSS parameters; openssl cms reads them.
    await openssl(['cms', '-verify', '-inform', 'DER', '-in', 'pss.tst', '-CAfile', pki.caPath, '-purpose', 'timestampsign', '-out', join(tmp.dir, 'pss.tstinfo')], tmp.dir);
  });

  const altered: { name: string; make: () => Buffer | Promise<Buffer>; options?: () => Partial<VerifyTokenOptions>; reason: string }[] = [
    { name: 'a genTime byte is flipped', make: () => flipGenTimeDigit(granted.resp, verifyTimestampToken(granted.resp, trust()).tstInfo.genTime), reason: 'TSA_SIGNED_ATTRS_INVALID' },
    { name: 'the imprint is not the expected digest', make: () => granted.resp, options: () => ({ digest: '00'.repeat(32) }), reason: 'TSA_IMPRINT_MISMATCH' },
    { name: 'a signature byte is flipped', make: () => Buffer.concat([granted.resp.subarray(0, -1), Buffer.from([granted.resp.at(-1)! ^ 0x01])]), reason: 'TSA_SIGNATURE_INVALID' },
    { name: 'the nonce differs from the request', make: () => granted.resp, options: () => ({ nonce: granted.nonce + 1n }), reason: 'TSA_NONCE_MISMATCH' },
    { name: 'the status is rejection (2) instead of granted (0)', make: () => patchStatus(granted.resp, 2), reason: 'TSA_STATUS_REJECTED' },
    { name: 'the TSA refused the request', make: () => tsa.respond(Buffer.from('not a request')), reason: 'TSA_STATUS_REJECTED' },
    { name: 'the chain does not reach a trust anchor', make: () => granted.resp, options: () => ({ trustAnchorsPem: pki.caPem }), reason: 'TSA_CHAIN_UNTRUSTED' },
    { name: 'the policy is not allowed', make: () => granted.resp, options: () => ({ policyAllowlist: ['1.2.3.4.1'] }), reason: 'TSA_POLICY_NOT_ALLOWED' },
    { name: 'the signer has no extended key usage', make: async () => signWith(await pki.issue('noeku', { keyType: 'ec', eku: 'none' })), options: () => ({ trustAnchorsPem: pki.caPem, nonce: 42n }), reason: 'TSA_EKU_INVALID' },
    { name: 'the timeStamping usage is not critical', make: async () => signWith(await pki.issue('noncrit', { keyType: 'ec', eku: 'noncritical' })), options: () => ({ trustAnchorsPem: pki.caPem, nonce: 42n }), reason: 'TSA_EKU_INVALID' },
    { name: 'genTime precedes the TSA certificate', make: async () => signWith(await pki.issue('early', { keyType: 'ec' }), { genTime: new Date('2001-01-01T00:00:00Z') }), options: () => ({ trustAnchorsPem: pki.caPem, nonce: 42n }), reason: 'TSA_CERT_EXPIRED' },
  ];

  it.each(altered)('rejects a token when $name', async ({ make, options, reason }) => {
    const der = await make();
    expect(() => verifyTimestampToken(der, { ...trust(), ...options?.() })).toThrow(expect.objectContaining({ code: 'TIMESTAMP_INVALID', reason }));
  });

  it('rejects an openssl token when the TSA certificate had expired at genTime', async () => {
    const peer = await startOpensslTsa(pki, { name: 'expired', keyType: 'rsa', startdate: '20200101000000Z', enddate: '20210101000000Z' });
    try {
      const { der } = buildTimeStampReq({ digest });
      const resp = await peer.reply(der);
      expect(() => verifyTimestampToken(resp, { trustAnchorsPem: pki.caPem, digest })).toThrow(expect.objectContaining({ reason: 'TSA_CERT_EXPIRED' }));
    } finally {
      await peer.close();
    }
  });
});

/** Rewrites PKIStatusInfo.status (the first INTEGER 0 after the outer headers). */
function patchStatus(resp: Buffer, status: number): Buffer {
  const at = resp.indexOf(Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]));
  if (at < 0 || at > 6) throw new TypeError('status not found');
  const out = Buffer.from(resp);
  out[at + 4] = status;
  return out;
}
