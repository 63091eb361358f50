import { constants, createHash, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { algorithm, ctx, int, nul, octets, oid, raw, seq, set, toDer } from './der.js';
import type { Node } from './der.js';
import { signatureFor } from './cert-build.js';
import type { CertInfo } from './cert-info.js';
import { OID } from './oids.js';

/** RFC 4055 parameters for RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt. */
const pssSha256 = (): Node =>
  seq([
    ctx(0, true, [algorithm(OID.sha256, nul())]),
    ctx(1, true, [algorithm(OID.mgf1, algorithm(OID.sha256, nul()))]),
    ctx(2, true, [int(32)]),
  ]);

function signerAlgorithm(key: KeyObject, pss: boolean): { alg: Node; sign(data: Buffer): Buffer } {
  if (!pss) return signatureFor(key);
  if (key.asymmetricKeyType !== 'rsa') throw new TypeError('RSA-PSS needs an RSA key');
  return {
    alg: algorithm(OID.rsassaPss, pssSha256()),
    sign: (d) => cryptoSign('sha256', d, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }),
  };
}

const attribute = (type: string, value: Node): Node => seq([oid(type), set([value])]);

/**
 * Wraps a DER TSTInfo into a timestamp token: CMS SignedData (RFC 5652) signed with SHA-256 over
 * the signed attributes content-type, message-digest and signing-certificate-v2 (ESSCertIDv2,
 * RFC 5035, hash algorithm left at its SHA-256 default). `certificates` are embedded when certReq was set.
 */
export function signTimestampToken(o: { tstInfoDer: Buffer; key: KeyObject; cert: CertInfo; certificates: Buffer[]; pss?: boolean }): Buffer {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
  const issuerSerial = seq([seq([ctx(4, true, [raw(o.cert.issuerDer)])]), int(o.cert.serial)]);
  const essCertIdV2 = seq([octets(sha256(o.cert.der)), issuerSerial]);
  // SET OF is sorted by encoding in DER.
  const attrs = [
    attribute(OID.contentType, oid(OID.tstInfo)),
    attribute(OID.messageDigest, octets(sha256(o.tstInfoDer))),
    attribute(OID.signingCertificateV2, seq([seq([essCertIdV2])])),
  ]
    .map(toDer)
    .sort(Buffer.compare);
  const signedAttrs = toDer(set(attrs.map(raw))); // forge keeps the order given
  const sig = signerAlgorithm(o.key, o.pss ?? false);
  const signerInfo = seq([
    int(1),
    seq([raw(o.cert.issuerDer), int(o.cert.serial)]),
    algorithm(OID.sha256, nul()),
    ctx(0, true, attrs.map(raw)),
    sig.alg,
    octets(sig.sign(signedAttrs)),
  ]);
  const signedData = seq([
    int(3), // eContentType is not id-data (RFC 5652 §5.1)
    set([algorithm(OID.sha256, nul())]),
    seq([oid(OID.tstInfo), ctx(0, true, [octets(o.tstInfoDer)])]),
    ...(o.certificates.length > 0 ? [ctx(0, true, o.certificates.map(raw))] : []),
    set([signerInfo]),
  ]);
  return toDer(seq([oid(OID.signedData), ctx(0, true, [signedData])]));
}
