import { constants, createHash, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { algorithm, ctx, derTag, int, nul, octets, oid, raw, seq, set, tlv, toDer } from './der.js';
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

export interface TokenSigner {
  key: KeyObject;
  cert: CertInfo;
  /** Embedded in the token (when the request set certReq). */
  certificates: Buffer[];
  pss?: boolean;
}

/**
 * Wraps a DER TSTInfo into a timestamp token: CMS SignedData (RFC 5652) signed with SHA-256 over
 * the signed attributes content-type, message-digest and signing-certificate-v2 (ESSCertIDv2,
 * RFC 5035, hash algorithm left at its SHA-256 default). Everything but the TSTInfo, its digest and
 * the signature is the same for every token of one signer: it is encoded once, here, and each
 * token is those bytes with the three put in.
 */
export function createTokenSigner(o: TokenSigner): (tstInfoDer: Buffer) => Buffer {
  const sha256 = (b: Buffer) => createHash('sha256').update(b).digest();
  const issuerSerial = seq([seq([ctx(4, true, [raw(o.cert.issuerDer)])]), int(o.cert.serial)]);
  const essCertIdV2 = seq([octets(sha256(o.cert.der)), issuerSerial]);
  const contentTypeAttr = toDer(attribute(OID.contentType, oid(OID.tstInfo)));
  const signingCertificateAttr = toDer(attribute(OID.signingCertificateV2, seq([seq([essCertIdV2])])));
  const messageDigestType = toDer(oid(OID.messageDigest));
  const sig = signerAlgorithm(o.key, o.pss ?? false);
  const signerId = [toDer(int(1)), toDer(seq([raw(o.cert.issuerDer), int(o.cert.serial)])), toDer(algorithm(OID.sha256, nul()))];
  const signatureAlgorithm = toDer(sig.alg);
  const dataHead = [toDer(int(3)), toDer(set([algorithm(OID.sha256, nul())]))]; // version 3: eContentType is not id-data (RFC 5652 §5.1)
  const tstInfoType = toDer(oid(OID.tstInfo));
  const certificates = o.certificates.length > 0 ? [toDer(ctx(0, true, o.certificates.map(raw)))] : [];
  const signedDataType = toDer(oid(OID.signedData));
  const { SEQUENCE, SET, OCTETS, CONTEXT_0 } = derTag;
  return (tstInfoDer) => {
    const messageDigestAttr = tlv(SEQUENCE, [messageDigestType, tlv(SET, [tlv(OCTETS, [sha256(tstInfoDer)])])]);
    // SET OF is sorted by encoding in DER.
    const attrs = [contentTypeAttr, messageDigestAttr, signingCertificateAttr].sort(Buffer.compare);
    const signerInfo = tlv(SEQUENCE, [...signerId, tlv(CONTEXT_0, attrs), signatureAlgorithm, tlv(OCTETS, [sig.sign(tlv(SET, attrs))])]);
    const content = tlv(SEQUENCE, [tstInfoType, tlv(CONTEXT_0, [tlv(OCTETS, [tstInfoDer])])]);
    const signedData = tlv(SEQUENCE, [...dataHead, content, ...certificates, tlv(SET, [signerInfo])]);
    return tlv(SEQUENCE, [signedDataType, tlv(CONTEXT_0, [signedData])]);
  };
}

/** One token: `createTokenSigner(o)` used once. */
export function signTimestampToken(o: TokenSigner & { tstInfoDer: Buffer }): Buffer {
  return createTokenSigner(o)(o.tstInfoDer);
}
