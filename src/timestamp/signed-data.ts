import { TimestampError, malformed } from './errors.js';
import { C, T, expectNode, kids, parseDer, readAlgorithm, readInt, readOctets, readOid, toDer } from './der.js';
import type { Node } from './der.js';
import { OID } from './oids.js';

/** Who signed, as named in the SignerInfo. */
export type SignerId = { issuerDer: Buffer; serial: bigint } | { ski: Buffer };

/** The parts of a timestamp token (ContentInfo / SignedData) that verification needs, as raw bytes. */
export interface ParsedSignedData {
  /** The whole ContentInfo, re-encoded (identical to the input: strict DER). */
  tokenDer: Buffer;
  eContentType: string;
  /** The DER TSTInfo, exactly the bytes the message digest covers. */
  eContent: Buffer;
  certificates: Buffer[];
  signer: {
    sid: SignerId;
    digestOid: string;
    /** The signed attributes re-encoded as a SET (tag 0x31): the bytes the signature covers (RFC 5652 §5.4). */
    signedAttrsDer: Buffer;
    /** Attribute values by type OID; each type appears once. */
    attrs: Map<string, Node[]>;
    signatureAlgorithm: { oid: string; params?: Node };
    signature: Buffer;
  };
}

function seqKids(node: Node | undefined, what: string): Node[] {
  return [...kids(expectNode(node, C.UNIVERSAL, T.SEQUENCE, true, what))];
}

function readSid(node: Node | undefined): SignerId {
  if (node?.tagClass === C.CONTEXT_SPECIFIC && node.type === 0 && !node.constructed) {
    return { ski: Buffer.from(node.value as string, 'binary') };
  }
  const [issuer, serial, ...rest] = seqKids(node, 'SignerInfo.sid');
  if (rest.length > 0) throw malformed('SignerInfo.sid has extra fields');
  return { issuerDer: toDer(expectNode(issuer, C.UNIVERSAL, T.SEQUENCE, true, 'sid.issuer')), serial: readInt(serial, 'sid.serialNumber') };
}

function readAttrs(node: Node): Map<string, Node[]> {
  const attrs = new Map<string, Node[]>();
  for (const a of kids(node)) {
    const [type, values, ...rest] = seqKids(a, 'Attribute');
    const t = readOid(type, 'Attribute.type');
    const v = kids(expectNode(values, C.UNIVERSAL, T.SET, true, 'Attribute.values'));
    if (rest.length > 0 || v.length === 0) throw malformed(`attribute ${t} is malformed`);
    if (attrs.has(t)) throw new TimestampError('TSA_SIGNED_ATTRS_INVALID', `attribute ${t} appears twice`);
    attrs.set(t, v);
  }
  return attrs;
}

function readSignerInfo(node: Node): ParsedSignedData['signer'] {
  const f = seqKids(node, 'SignerInfo');
  const version = readInt(f.shift(), 'SignerInfo.version');
  if (version !== 1n && version !== 3n) throw malformed(`SignerInfo.version ${version}`);
  const sid = readSid(f.shift());
  const digestOid = readAlgorithm(f.shift(), 'SignerInfo.digestAlgorithm').oid;
  const sa = f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 0 ? f.shift()! : undefined;
  if (!sa || !sa.constructed) throw new TimestampError('TSA_SIGNED_ATTRS_INVALID', 'SignerInfo has no signed attributes');
  const signedAttrsDer = toDer(sa);
  signedAttrsDer[0] = 0x31; // [0] IMPLICIT on the wire, SET OF when signed
  const signatureAlgorithm = readAlgorithm(f.shift(), 'SignerInfo.signatureAlgorithm');
  const signature = readOctets(f.shift(), 'SignerInfo.signature');
  if (f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 1) f.shift();
  if (f.length > 0) throw malformed('SignerInfo has unexpected fields');
  return { sid, digestOid, signedAttrsDer, attrs: readAttrs(sa), signatureAlgorithm, signature };
}

/** Parses a DER timestamp token: ContentInfo { signedData, SignedData { TSTInfo } } with one signer. */
export function parseSignedDataToken(der: Buffer | Node): ParsedSignedData {
  const root = Buffer.isBuffer(der) ? parseDer(der, 'TimeStampToken') : der;
  const [ct, content, ...extra] = seqKids(root, 'ContentInfo');
  if (extra.length > 0) throw malformed('ContentInfo has extra fields');
  if (readOid(ct, 'ContentInfo.contentType') !== OID.signedData) throw malformed('token is not CMS SignedData');
  const [sdNode, ...more] = kids(expectNode(content, C.CONTEXT_SPECIFIC, 0, true, 'ContentInfo.content'));
  if (more.length > 0) throw malformed('ContentInfo.content has extra fields');
  const f = seqKids(sdNode, 'SignedData');
  const version = readInt(f.shift(), 'SignedData.version');
  if (version < 1n || version > 5n) throw malformed(`SignedData.version ${version}`);
  kids(expectNode(f.shift(), C.UNIVERSAL, T.SET, true, 'SignedData.digestAlgorithms'));
  const [eType, eWrap, ...eRest] = seqKids(f.shift(), 'SignedData.encapContentInfo');
  if (eRest.length > 0) throw malformed('encapContentInfo has extra fields');
  const eContentType = readOid(eType, 'eContentType');
  const [eOctets, ...eMore] = kids(expectNode(eWrap, C.CONTEXT_SPECIFIC, 0, true, 'eContent'));
  if (eMore.length > 0) throw malformed('eContent has extra fields');
  const eContent = readOctets(eOctets, 'eContent');
  const certificates: Buffer[] = [];
  if (f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 0) {
    for (const c of kids(expectNode(f.shift(), C.CONTEXT_SPECIFIC, 0, true, 'SignedData.certificates'))) {
      // Only plain X.509 certificates; attribute and other certificate formats are skipped.
      if (c.tagClass === C.UNIVERSAL && c.type === T.SEQUENCE) certificates.push(toDer(c));
    }
  }
  if (f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 1) f.shift();
  const signerInfos = kids(expectNode(f.shift(), C.UNIVERSAL, T.SET, true, 'SignedData.signerInfos'));
  if (f.length > 0) throw malformed('SignedData has unexpected fields');
  if (signerInfos.length !== 1) throw malformed(`a timestamp token has exactly one signer, not ${signerInfos.length}`);
  return { tokenDer: toDer(root), eContentType, eContent, certificates, signer: readSignerInfo(signerInfos[0]!) };
}
