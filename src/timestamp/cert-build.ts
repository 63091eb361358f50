import { createHash, sign as cryptoSign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import forge from 'node-forge';
import { C, T, algorithm, bits, bool, ctx, generalizedTime, int, nul, octets, oid, raw, seq, set, toDer, utf8 } from './der.js';
import type { Node } from './der.js';
import { OID } from './oids.js';

/** The signature algorithm and signer for a key: ECDSA with SHA-256, or RSA PKCS#1 v1.5 with SHA-256. */
export function signatureFor(key: KeyObject): { alg: Node; sign(data: Buffer): Buffer } {
  if (key.asymmetricKeyType === 'ec') {
    return { alg: algorithm(OID.ecdsaSha256), sign: (d) => cryptoSign('sha256', d, { key, dsaEncoding: 'der' }) };
  }
  if (key.asymmetricKeyType === 'rsa') return { alg: algorithm(OID.sha256WithRSA, nul()), sign: (d) => cryptoSign('sha256', d, key) };
  throw new TypeError(`no signature algorithm for ${key.asymmetricKeyType} keys`);
}

/** A DER `Name` of a common name and an optional organization. */
export function nameDer(cn: string, o?: string): Buffer {
  const rdn = (type: string, v: string) => set([seq([oid(type), utf8(v)])]);
  return toDer(seq([...(o ? [rdn(OID.organization, o)] : []), rdn(OID.commonName, cn)]));
}

function time(d: Date): Node {
  // RFC 5280: UTCTime through 2049, GeneralizedTime from 2050, whole seconds.
  const whole = new Date(Math.floor(d.getTime() / 1000) * 1000);
  if (whole.getUTCFullYear() >= 2050) return generalizedTime(whole);
  const s = whole.toISOString();
  const v = `${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`;
  return forge.asn1.create(C.UNIVERSAL, T.UTCTIME, false, v);
}

export interface CertExtension {
  oid: string;
  critical: boolean;
  value: Node;
}

export const keyId = (publicKey: KeyObject): Buffer =>
  createHash('sha1').update(publicKey.export({ type: 'spki', format: 'der' })).digest();

/** Extensions of a CA that only signs certificates. */
export function caExtensions(publicKey: KeyObject): CertExtension[] {
  return [
    { oid: OID.basicConstraints, critical: true, value: seq([bool(true)]) },
    { oid: OID.keyUsage, critical: true, value: bits(Buffer.from([0x06]), 1) }, // keyCertSign, cRLSign
    { oid: OID.subjectKeyIdentifier, critical: false, value: octets(keyId(publicKey)) },
  ];
}

/** Extensions of a TSA signing certificate: RFC 3161 §2.3 requires EKU exactly timeStamping, critical. */
export function tsaExtensions(publicKey: KeyObject, issuerKey: KeyObject): CertExtension[] {
  return [
    { oid: OID.basicConstraints, critical: true, value: seq([]) },
    { oid: OID.keyUsage, critical: true, value: bits(Buffer.from([0xc0]), 6) }, // digitalSignature, nonRepudiation
    { oid: OID.extKeyUsage, critical: true, value: seq([oid(OID.timeStamping)]) },
    { oid: OID.subjectKeyIdentifier, critical: false, value: octets(keyId(publicKey)) },
    { oid: OID.authorityKeyIdentifier, critical: false, value: seq([ctx(0, false, keyId(issuerKey).toString('binary'))]) },
  ];
}

/** Builds and signs an X.509 v3 certificate with node:crypto (works for EC keys, which forge's pki cannot). */
export function buildCertificate(o: {
  subjectDer: Buffer;
  issuerDer: Buffer;
  serial: bigint;
  notBefore: Date;
  notAfter: Date;
  publicKey: KeyObject;
  signingKey: KeyObject;
  extensions: CertExtension[];
}): Buffer {
  const sig = signatureFor(o.signingKey);
  const exts = o.extensions.map((e) => seq([oid(e.oid), ...(e.critical ? [bool(true)] : []), octets(toDer(e.value))]));
  const tbs = seq([
    ctx(0, true, [int(2)]),
    int(o.serial),
    sig.alg,
    raw(o.issuerDer),
    seq([time(o.notBefore), time(o.notAfter)]),
    raw(o.subjectDer),
    raw(o.publicKey.export({ type: 'spki', format: 'der' })),
    ctx(3, true, [seq(exts)]),
  ]);
  const tbsDer = toDer(tbs);
  return toDer(seq([tbs, sig.alg, bits(sig.sign(tbsDer))]));
}
