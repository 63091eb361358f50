import { constants, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { TimestampError } from './errors.js';
import { C, T, expectNode, kids, readAlgorithm, readInt } from './der.js';
import type { Node } from './der.js';
import { OID, hashByOid } from './oids.js';

type Hash = 'sha256' | 'sha384' | 'sha512';

const rsaWithHash: Record<string, Hash> = { [OID.sha256WithRSA]: 'sha256', [OID.sha384WithRSA]: 'sha384', [OID.sha512WithRSA]: 'sha512' };
const ecdsaWithHash: Record<string, Hash> = { [OID.ecdsaSha256]: 'sha256', [OID.ecdsaSha384]: 'sha384', [OID.ecdsaSha512]: 'sha512' };
const allowedCurves = new Set(['prime256v1', 'secp384r1']);

function unsupported(what: string): TimestampError {
  return new TimestampError('TSA_ALGORITHM_UNSUPPORTED', what);
}

/** RSASSA-PSS-params (RFC 4055): node:crypto takes one hash for both digest and MGF1, so they must agree. */
function pssParams(params: Node | undefined): { hash: string; saltLength: number } {
  let hash = 'sha1';
  let mgfHash = 'sha1';
  let saltLength = 20;
  for (const p of params ? kids(expectNode(params, C.UNIVERSAL, T.SEQUENCE, true, 'RSASSA-PSS-params')) : []) {
    const inner = kids(p)[0];
    if (p.type === 0) hash = hashByOid[readAlgorithm(inner, 'pss.hashAlgorithm').oid] ?? 'unknown';
    else if (p.type === 1) {
      const mgf = readAlgorithm(inner, 'pss.maskGenAlgorithm');
      if (mgf.oid !== OID.mgf1) throw unsupported(`PSS mask generation ${mgf.oid}`);
      mgfHash = hashByOid[readAlgorithm(mgf.params, 'mgf1.hash').oid] ?? 'unknown';
    } else if (p.type === 2) saltLength = Number(readInt(inner, 'pss.saltLength'));
    else if (p.type === 3 && readInt(inner, 'pss.trailerField') !== 1n) throw unsupported('PSS trailer field');
  }
  if (hash !== mgfHash || !['sha256', 'sha384', 'sha512'].includes(hash)) throw unsupported(`PSS with ${hash}/MGF1-${mgfHash}`);
  return { hash, saltLength };
}

/**
 * Checks a CMS signature over `data`: RSA PKCS#1 v1.5, RSA-PSS, or ECDSA on P-256/P-384.
 * `digestOid` is the SignerInfo's digestAlgorithm; a signature algorithm that names another hash is refused.
 */
export function verifyCmsSignature(o: { key: KeyObject; digestOid: string; algOid: string; algParams?: Node; data: Buffer; signature: Buffer }): void {
  const digest = hashByOid[o.digestOid];
  if (!digest || digest === 'sha1') throw unsupported(`digest ${o.digestOid}`);
  const keyType = o.key.asymmetricKeyType;
  let ok: boolean;
  try {
    if (o.algOid === OID.rsaEncryption || rsaWithHash[o.algOid]) {
      if (keyType !== 'rsa') throw unsupported(`${keyType} key with an RSA signature`);
      if (rsaWithHash[o.algOid] && rsaWithHash[o.algOid] !== digest) throw unsupported('signature hash differs from the digest algorithm');
      ok = cryptoVerify(digest, o.data, { key: o.key, padding: constants.RSA_PKCS1_PADDING }, o.signature);
    } else if (o.algOid === OID.rsassaPss) {
      if (keyType !== 'rsa' && keyType !== 'rsa-pss') throw unsupported(`${keyType} key with an RSA-PSS signature`);
      const pss = pssParams(o.algParams);
      if (pss.hash !== digest) throw unsupported('PSS hash differs from the digest algorithm');
      ok = cryptoVerify(digest, o.data, { key: o.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }, o.signature);
    } else if (o.algOid === OID.ecPublicKey || ecdsaWithHash[o.algOid]) {
      const curve = o.key.asymmetricKeyDetails?.namedCurve ?? '';
      if (keyType !== 'ec' || !allowedCurves.has(curve)) throw unsupported(`ECDSA on ${keyType}/${curve}`);
      if (ecdsaWithHash[o.algOid] && ecdsaWithHash[o.algOid] !== digest) throw unsupported('signature hash differs from the digest algorithm');
      ok = cryptoVerify(digest, o.data, { key: o.key, dsaEncoding: 'der' }, o.signature);
    } else throw unsupported(`signature algorithm ${o.algOid}`);
  } catch (err) {
    if (err instanceof TimestampError) throw err;
    throw new TimestampError('TSA_SIGNATURE_INVALID', 'signature does not decode', { cause: err });
  }
  if (!ok) throw new TimestampError('TSA_SIGNATURE_INVALID', 'signature does not verify over the signed attributes');
}
