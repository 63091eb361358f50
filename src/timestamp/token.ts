import { createHash } from 'node:crypto';
import type { X509Certificate } from 'node:crypto';
import { TimestampError, malformed } from './errors.js';
import { C, T, expectNode, kids, parseDer, readAlgorithm, readInt, readOctets, readOid, toDer } from './der.js';
import type { Node } from './der.js';
import { buildChain } from './chain.js';
import { extendedKeyUsage, readCert, readPemCerts } from './cert-info.js';
import type { CertInfo } from './cert-info.js';
import { OID, hashByOid } from './oids.js';
import { isTimeStampResp, parseTimeStampResp } from './response.js';
import type { PKIStatusInfo } from './response.js';
import { parseSignedDataToken } from './signed-data.js';
import type { ParsedSignedData, SignerId } from './signed-data.js';
import { verifyCmsSignature } from './signature.js';
import { parseTstInfo } from './tst-info.js';
import type { TSTInfo } from './tst-info.js';

/** What a token must match and whom to trust. */
export interface VerifyTokenOptions {
  /** PEM trust anchors (one or more bundles). */
  trustAnchorsPem: string | string[];
  /** PEM intermediates and the TSA certificate, for tokens issued without certReq. */
  untrustedPem?: string | string[];
  /** The expected message imprint: hex or bytes. */
  digest?: Buffer | string;
  /** The nonce sent in the request; when given the token must echo it. */
  nonce?: bigint | string;
  /** When given, the token's policy must be one of these OIDs. */
  policyAllowlist?: readonly string[];
}

/** A token that passed every check. */
export interface VerifiedToken {
  ok: true;
  tstInfo: TSTInfo;
  signerCert: X509Certificate;
  /** Signer first, trust anchor last. */
  chain: X509Certificate[];
  /** The bare token (ContentInfo DER), also when a TimeStampResp was given. */
  token: Buffer;
  status?: PKIStatusInfo;
}

function sameSigner(c: CertInfo, sid: SignerId): boolean {
  if ('ski' in sid) {
    const ext = c.extensions.find((e) => e.oid === OID.subjectKeyIdentifier);
    return !!ext && readOctets(parseDer(ext.value, 'subjectKeyIdentifier'), 'subjectKeyIdentifier').equals(sid.ski);
  }
  return c.serial === sid.serial && c.issuerDer.equals(sid.issuerDer);
}

function attr(sd: ParsedSignedData, type: string): Node | undefined {
  const v = sd.signer.attrs.get(type);
  if (v && v.length !== 1) throw new TimestampError('TSA_SIGNED_ATTRS_INVALID', `attribute ${type} has ${v.length} values`);
  return v?.[0];
}

function checkSignedAttrs(sd: ParsedSignedData, digest: string): void {
  const ct = attr(sd, OID.contentType);
  if (!ct || readOid(ct, 'contentType') !== OID.tstInfo) throw new TimestampError('TSA_SIGNED_ATTRS_INVALID', 'content-type attribute is not id-ct-TSTInfo');
  const md = attr(sd, OID.messageDigest);
  const want = createHash(digest).update(sd.eContent).digest();
  if (!md || !readOctets(md, 'messageDigest').equals(want)) throw new TimestampError('TSA_SIGNED_ATTRS_INVALID', 'message-digest attribute does not match the TSTInfo');
}

/** ESSCertIDv2 (RFC 5035) or ESSCertID (RFC 2634): the first certID must name the signer certificate. */
function checkCertBinding(sd: ParsedSignedData, signer: CertInfo): void {
  const v2 = attr(sd, OID.signingCertificateV2);
  const v1 = attr(sd, OID.signingCertificate);
  const sc = v2 ?? v1;
  const fail = (why: string) => new TimestampError('TSA_CERT_BINDING_INVALID', why);
  if (!sc) throw fail('no signing-certificate attribute');
  const certs = kids(expectNode(kids(expectNode(sc, C.UNIVERSAL, T.SEQUENCE, true, 'SigningCertificate'))[0], C.UNIVERSAL, T.SEQUENCE, true, 'certs'));
  const f = [...kids(expectNode(certs[0], C.UNIVERSAL, T.SEQUENCE, true, 'ESSCertID'))];
  let hash = v2 ? 'sha256' : 'sha1';
  if (v2 && f[0]?.type === T.SEQUENCE) hash = hashByOid[readAlgorithm(f.shift(), 'ESSCertIDv2.hashAlgorithm').oid] ?? '';
  if (!hash) throw new TimestampError('TSA_ALGORITHM_UNSUPPORTED', 'ESSCertIDv2 hash algorithm');
  if (!readOctets(f.shift(), 'certHash').equals(createHash(hash).update(signer.der).digest())) throw fail('certHash does not match the signer certificate');
  if (f[0]) {
    const [names, serial] = kids(expectNode(f[0], C.UNIVERSAL, T.SEQUENCE, true, 'IssuerSerial'));
    if (readInt(serial, 'IssuerSerial.serialNumber') !== signer.serial) throw fail('issuerSerial names another certificate');
    const dn = kids(expectNode(names, C.UNIVERSAL, T.SEQUENCE, true, 'GeneralNames')).find((n) => n.tagClass === C.CONTEXT_SPECIFIC && n.type === 4);
    if (dn && !toDer(kids(dn)[0]!).equals(signer.issuerDer)) throw fail('issuerSerial names another issuer');
  }
}

function checkEku(signer: CertInfo): void {
  const eku = extendedKeyUsage(signer);
  if (!eku || !eku.critical || eku.purposes.length !== 1 || eku.purposes[0] !== OID.timeStamping) {
    throw new TimestampError('TSA_EKU_INVALID', 'signer extended key usage must be exactly timeStamping, marked critical', { details: { eku } });
  }
}

function equalHex(a: string, b: Buffer | string): boolean {
  return a.toLowerCase() === (typeof b === 'string' ? b.toLowerCase() : b.toString('hex'));
}

/**
 * Verifies a DER `TimeStampResp` or bare timestamp token fully: status, structure, signed attributes,
 * signature, ESS certificate binding, timeStamping EKU, imprint, nonce, policy, and a chain to the
 * trust anchors valid at genTime. Throws `TimestampError` with the reason of the first failed check.
 */
export function verifyTimestampToken(der: Buffer, options: VerifyTokenOptions): VerifiedToken {
  const root = parseDer(der, 'timestamp token');
  let status: PKIStatusInfo | undefined;
  let tokenNode = root;
  if (isTimeStampResp(root)) ({ status, token: tokenNode } = parseTimeStampResp(root));
  const sd = parseSignedDataToken(tokenNode);
  if (sd.eContentType !== OID.tstInfo) throw malformed(`eContentType ${sd.eContentType} is not id-ct-TSTInfo`);
  const digest = hashByOid[sd.signer.digestOid];
  if (!digest || digest === 'sha1') throw new TimestampError('TSA_ALGORITHM_UNSUPPORTED', `digest algorithm ${sd.signer.digestOid}`);

  checkSignedAttrs(sd, digest);
  const embedded = sd.certificates.map(readCert);
  const untrusted = readPemCerts(options.untrustedPem);
  const signer = [...embedded, ...untrusted].find((c) => sameSigner(c, sd.signer.sid));
  if (!signer) throw new TimestampError('TSA_CHAIN_UNTRUSTED', 'the signer certificate is neither in the token nor among the untrusted certificates');
  const { signatureAlgorithm: alg } = sd.signer;
  verifyCmsSignature({ key: signer.x509.publicKey, digestOid: sd.signer.digestOid, algOid: alg.oid, algParams: alg.params, data: sd.signer.signedAttrsDer, signature: sd.signer.signature });
  checkCertBinding(sd, signer);
  checkEku(signer);

  const tstInfo = parseTstInfo(sd.eContent);
  if (options.digest !== undefined && !equalHex(tstInfo.imprint, options.digest)) {
    throw new TimestampError('TSA_IMPRINT_MISMATCH', 'message imprint differs from the expected digest', { details: { imprint: tstInfo.imprint } });
  }
  if (options.nonce !== undefined && tstInfo.nonce !== BigInt(options.nonce).toString()) {
    throw new TimestampError('TSA_NONCE_MISMATCH', 'nonce differs from the one requested', { details: { nonce: tstInfo.nonce ?? null } });
  }
  if (options.policyAllowlist && !options.policyAllowlist.includes(tstInfo.policy)) {
    throw new TimestampError('TSA_POLICY_NOT_ALLOWED', `policy ${tstInfo.policy} is not allowed`, { details: { policy: tstInfo.policy } });
  }
  const anchors = readPemCerts(options.trustAnchorsPem);
  if (anchors.length === 0) throw new TypeError('verifyTimestampToken needs at least one trust anchor');
  const chain = buildChain(signer, [...embedded, ...untrusted], anchors, new Date(tstInfo.genTime));
  return { ok: true, tstInfo, signerCert: signer.x509, chain: chain.map((c) => c.x509), token: sd.tokenDer, ...(status ? { status } : {}) };
}
