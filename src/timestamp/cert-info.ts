import { X509Certificate } from 'node:crypto';
import { malformed } from './errors.js';
import { C, T, expectNode, kids, parseDer, readInt, readOctets, readOid, toDer } from './der.js';

/** One X.509 certificate: node's object for signatures and validity, plus the DER fields CMS refers to. */
export interface CertInfo {
  x509: X509Certificate;
  der: Buffer;
  issuerDer: Buffer;
  subjectDer: Buffer;
  serial: bigint;
  extensions: { oid: string; critical: boolean; value: Buffer }[];
}

/** Parses a DER certificate; refuses anything node:crypto or our strict DER reader refuses. */
export function readCert(der: Buffer): CertInfo {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(der);
  } catch (err) {
    throw malformed('certificate does not parse', err);
  }
  const [tbs] = kids(expectNode(parseDer(der, 'Certificate'), C.UNIVERSAL, T.SEQUENCE, true, 'Certificate'));
  const f = [...kids(expectNode(tbs, C.UNIVERSAL, T.SEQUENCE, true, 'TBSCertificate'))];
  if (f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 0) f.shift();
  const serial = readInt(f.shift(), 'serialNumber');
  f.shift(); // signature algorithm
  const issuerDer = toDer(expectNode(f.shift(), C.UNIVERSAL, T.SEQUENCE, true, 'issuer'));
  f.shift(); // validity
  const subjectDer = toDer(expectNode(f.shift(), C.UNIVERSAL, T.SEQUENCE, true, 'subject'));
  const extensions: CertInfo['extensions'] = [];
  const extWrap = f.find((n) => n.tagClass === C.CONTEXT_SPECIFIC && n.type === 3);
  if (extWrap) {
    for (const e of kids(expectNode(kids(extWrap)[0], C.UNIVERSAL, T.SEQUENCE, true, 'extensions'))) {
      const ef = [...kids(expectNode(e, C.UNIVERSAL, T.SEQUENCE, true, 'Extension'))];
      const oid = readOid(ef.shift(), 'extnID');
      const critical = ef[0]?.type === T.BOOLEAN ? ef.shift()!.value === '\xff' : false;
      extensions.push({ oid, critical, value: readOctets(ef.shift(), 'extnValue') });
    }
  }
  return { x509, der, issuerDer, subjectDer, serial, extensions };
}

/** Splits PEM text (one or several bundles) into certificates. */
export function readPemCerts(pem: string | string[] | undefined): CertInfo[] {
  const text = Array.isArray(pem) ? pem.join('\n') : (pem ?? '');
  const out: CertInfo[] = [];
  for (const m of text.matchAll(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g)) {
    out.push(readCert(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64')));
  }
  return out;
}

/** Extended key usage OIDs and whether the extension is critical; undefined when absent. */
export function extendedKeyUsage(cert: CertInfo): { critical: boolean; purposes: string[] } | undefined {
  const ext = cert.extensions.find((e) => e.oid === '2.5.29.37');
  if (!ext) return undefined;
  const seqNode = expectNode(parseDer(ext.value, 'extKeyUsage'), C.UNIVERSAL, T.SEQUENCE, true, 'extKeyUsage');
  return { critical: ext.critical, purposes: kids(seqNode).map((n) => readOid(n, 'KeyPurposeId')) };
}

export function toPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}
