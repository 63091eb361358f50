import { randomBytes } from 'node:crypto';
import { TimestampError, malformed } from './errors.js';
import { C, T, algorithm, bool, expectNode, int, kids, nul, octets, oid, parseDer, readAlgorithm, readInt, readOctets, readOid, seq, toDer } from './der.js';
import type { Node } from './der.js';
import { OID, hashByOid, hashLength } from './oids.js';

/** A request is a hash, a nonce and a few flags: 8 KiB is generous. */
export const MAX_REQUEST_BYTES = 8 * 1024;

export type HashName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** A parsed RFC 3161 `TimeStampReq`. */
export interface TimeStampReq {
  version: 1;
  hashAlgorithm: HashName;
  imprint: Buffer;
  reqPolicy?: string;
  nonce?: bigint;
  certReq: boolean;
  /** Number of request extensions; a TSA that knows none must refuse any. */
  extensionCount: number;
}

/** Hex digest (or raw bytes) to the 32 bytes of a SHA-256 imprint; a bad digest is our caller's bug. */
export function sha256Imprint(digest: Buffer | string): Buffer {
  const b = typeof digest === 'string' ? Buffer.from(digest, 'hex') : digest;
  if (b.length !== 32 || (typeof digest === 'string' && !/^[0-9a-fA-F]{64}$/.test(digest))) {
    throw new TypeError('a SHA-256 digest is 64 hex characters');
  }
  return b;
}

/** A random positive 64-bit nonce. */
export function randomNonce(): bigint {
  return BigInt(`0x${randomBytes(8).toString('hex')}`) || 1n;
}

/** Builds a DER `TimeStampReq` v1 over a SHA-256 digest, with a random 64-bit nonce and certReq. */
export function buildTimeStampReq(options: {
  digest: Buffer | string;
  reqPolicy?: string;
  nonce?: bigint;
  certReq?: boolean;
}): { der: Buffer; nonce: bigint } {
  const nonce = options.nonce ?? randomNonce();
  const fields: Node[] = [int(1), seq([algorithm(OID.sha256, nul()), octets(sha256Imprint(options.digest))])];
  if (options.reqPolicy) fields.push(oid(options.reqPolicy));
  fields.push(int(nonce));
  // certReq is DEFAULT FALSE: DER omits a false value.
  if (options.certReq ?? true) fields.push(bool(true));
  return { der: toDer(seq(fields)), nonce };
}

/**
 * Parses a DER `TimeStampReq` strictly: size-capped, no trailing bytes, v1 only. An unknown hash
 * algorithm is `TSA_ALGORITHM_UNSUPPORTED`; anything else wrong is `TSA_MALFORMED`.
 */
export function parseTimeStampReq(der: Buffer): TimeStampReq {
  const root = expectNode(parseDer(der, 'TimeStampReq', MAX_REQUEST_BYTES), C.UNIVERSAL, T.SEQUENCE, true, 'TimeStampReq');
  const f = [...kids(root)];
  if (readInt(f.shift(), 'TimeStampReq.version') !== 1n) throw malformed('TimeStampReq.version is not 1');
  const { hashAlgorithm, imprint } = readMessageImprint(f.shift(), 'TimeStampReq.messageImprint');
  const req: TimeStampReq = { version: 1, hashAlgorithm, imprint, certReq: false, extensionCount: 0 };
  if (f[0]?.tagClass === C.UNIVERSAL && f[0].type === T.OID) req.reqPolicy = readOid(f.shift(), 'TimeStampReq.reqPolicy');
  if (f[0]?.tagClass === C.UNIVERSAL && f[0].type === T.INTEGER) {
    req.nonce = readInt(f.shift(), 'TimeStampReq.nonce');
    if (req.nonce < 0n) throw malformed('TimeStampReq.nonce is negative');
  }
  if (f[0]?.tagClass === C.UNIVERSAL && f[0].type === T.BOOLEAN) {
    const b = expectNode(f.shift(), C.UNIVERSAL, T.BOOLEAN, false, 'TimeStampReq.certReq');
    // DER encodes a DEFAULT FALSE field only when true.
    if (b.value !== '\xff') throw malformed('TimeStampReq.certReq encodes its default');
    req.certReq = true;
  }
  if (f[0]?.tagClass === C.CONTEXT_SPECIFIC && f[0].type === 0) {
    req.extensionCount = kids(expectNode(f.shift(), C.CONTEXT_SPECIFIC, 0, true, 'TimeStampReq.extensions')).length;
  }
  if (f.length > 0) throw malformed('TimeStampReq has unexpected fields');
  return req;
}

/** Reads a `MessageImprint`, shared by requests and TSTInfo. */
export function readMessageImprint(node: Node | undefined, what: string): { hashAlgorithm: HashName; imprint: Buffer } {
  const [alg, hashed, ...rest] = kids(expectNode(node, C.UNIVERSAL, T.SEQUENCE, true, what));
  if (rest.length > 0) throw malformed(`${what} has extra fields`);
  const { oid: hashOid, params } = readAlgorithm(alg, `${what}.hashAlgorithm`);
  if (params && !(params.tagClass === C.UNIVERSAL && params.type === T.NULL)) throw malformed(`${what}: hash parameters must be absent or NULL`);
  const hashAlgorithm = hashByOid[hashOid];
  if (!hashAlgorithm) throw new TimestampError('TSA_ALGORITHM_UNSUPPORTED', `${what}: unknown hash algorithm ${hashOid}`, { details: { oid: hashOid } });
  const imprint = readOctets(hashed, `${what}.hashedMessage`);
  if (imprint.length !== hashLength[hashAlgorithm]) throw malformed(`${what}: ${imprint.length}-byte digest for ${hashAlgorithm}`);
  return { hashAlgorithm, imprint };
}
