import forge from 'node-forge';
import { malformed } from './errors.js';

const { asn1 } = forge;
export type Node = forge.asn1.Asn1;
export const C = asn1.Class;
export const T = asn1.Type;

/** Caps for hostile input: RFC 3161 objects are small; certificates nest a few levels deep. */
export const MAX_DER_BYTES = 256 * 1024;
const MAX_DEPTH = 32;

/**
 * Refuses anything that is not strict DER: indefinite or non-minimal lengths, high tag numbers,
 * non-minimal INTEGERs, BOOLEANs other than 00/FF, trailing bytes, too deep or too large.
 * (forge accepts BER; re-encoding a node must give back the signed bytes, so BER is refused here.)
 */
export function assertStrictDer(buf: Buffer, what: string, maxBytes = MAX_DER_BYTES): void {
  if (buf.length === 0) throw malformed(`${what}: empty`);
  if (buf.length > maxBytes) throw malformed(`${what}: ${buf.length} bytes exceeds the ${maxBytes}-byte limit`);
  const end = walk(buf, 0, 0, what);
  if (end !== buf.length) throw malformed(`${what}: ${buf.length - end} trailing bytes`);
}

function walk(buf: Buffer, pos: number, depth: number, what: string): number {
  if (depth > MAX_DEPTH) throw malformed(`${what}: nested deeper than ${MAX_DEPTH}`);
  if (pos + 2 > buf.length) throw malformed(`${what}: truncated header at ${pos}`);
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw malformed(`${what}: high tag number at ${pos}`);
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len === 0x80) throw malformed(`${what}: indefinite length at ${pos}`);
  if (len > 0x80) {
    const n = len & 0x7f;
    if (n > 4 || p + n > buf.length) throw malformed(`${what}: bad length at ${pos}`);
    if (buf[p] === 0) throw malformed(`${what}: non-minimal length at ${pos}`);
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i]!;
    if (len < 0x80) throw malformed(`${what}: non-minimal length at ${pos}`);
    p += n;
  }
  const end = p + len;
  if (end > buf.length) throw malformed(`${what}: truncated value at ${pos}`);
  if (tag & 0x20) {
    let q = p;
    while (q < end) q = walk(buf, q, depth + 1, what);
  } else if (tag === 0x01 && (len !== 1 || (buf[p] !== 0 && buf[p] !== 0xff))) {
    throw malformed(`${what}: BOOLEAN not DER at ${pos}`);
  } else if (tag === 0x02) {
    if (len === 0) throw malformed(`${what}: empty INTEGER at ${pos}`);
    if (len > 1 && ((buf[p] === 0 && buf[p + 1]! < 0x80) || (buf[p] === 0xff && buf[p + 1]! >= 0x80))) {
      throw malformed(`${what}: non-minimal INTEGER at ${pos}`);
    }
  }
  return end;
}

// The typings predate forge's options object (strict, parseAllBytes, decodeBitStrings).
const fromDer = asn1.fromDer as unknown as (
  bytes: forge.util.ByteStringBuffer,
  options: { strict: boolean; parseAllBytes: boolean; decodeBitStrings: boolean },
) => Node;

/** Strict DER in, forge's tree out. */
export function parseDer(buf: Buffer, what: string, maxBytes = MAX_DER_BYTES): Node {
  assertStrictDer(buf, what, maxBytes);
  try {
    return fromDer(forge.util.createBuffer(buf.toString('binary')), {
      strict: true,
      parseAllBytes: true,
      decodeBitStrings: false,
    });
  } catch (err) {
    throw malformed(`${what}: not DER`, err);
  }
}

/** Re-encodes a node; byte-identical to the input because the input was strict DER. */
export function toDer(node: Node): Buffer {
  return Buffer.from(asn1.toDer(node).getBytes(), 'binary');
}

/** Checks a node's tag and returns it; `what` names the field in the error. */
export function expectNode(node: Node | undefined, tagClass: number, type: number, constructed: boolean, what: string): Node {
  if (!node || node.tagClass !== tagClass || node.type !== type || node.constructed !== constructed) {
    throw malformed(`${what}: unexpected tag`);
  }
  return node;
}

export function kids(node: Node): Node[] {
  if (!Array.isArray(node.value)) throw malformed('expected a constructed value');
  return node.value;
}

export function bytesOf(node: Node): Buffer {
  if (typeof node.value !== 'string') throw malformed('expected a primitive value');
  return Buffer.from(node.value, 'binary');
}

export function readOid(node: Node | undefined, what: string): string {
  const b = bytesOf(expectNode(node, C.UNIVERSAL, T.OID, false, what));
  // Arcs are read as bigints: UUID-based OIDs (2.25.<128 bits>) overflow forge's 32-bit decoder.
  const arcs: bigint[] = [];
  let v = 0n;
  for (let i = 0; i < b.length; i++) {
    if (v === 0n && b[i] === 0x80) throw malformed(`${what}: non-minimal OID arc`);
    v = (v << 7n) | BigInt(b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      arcs.push(v);
      v = 0n;
    } else if (i === b.length - 1) throw malformed(`${what}: truncated OID`);
  }
  if (arcs.length === 0) throw malformed(`${what}: empty OID`);
  const first = arcs[0]! < 80n ? arcs[0]! / 40n : 2n;
  return [first, arcs[0]! - first * 40n, ...arcs.slice(1)].join('.');
}

export function readInt(node: Node | undefined, what: string): bigint {
  const b = bytesOf(expectNode(node, C.UNIVERSAL, T.INTEGER, false, what));
  let v = BigInt(`0x${b.toString('hex')}`);
  if (b[0]! & 0x80) v -= 1n << BigInt(b.length * 8);
  return v;
}

export function readOctets(node: Node | undefined, what: string): Buffer {
  return bytesOf(expectNode(node, C.UNIVERSAL, T.OCTETSTRING, false, what));
}

/** Reads GeneralizedTime in the RFC 3161 profile: YYYYMMDDhhmmss[.f*]Z. */
export function readGeneralizedTime(node: Node | undefined, what: string): Date {
  const s = bytesOf(expectNode(node, C.UNIVERSAL, T.GENERALIZEDTIME, false, what)).toString('latin1');
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d*[1-9]))?Z$/.exec(s);
  if (!m) throw malformed(`${what}: "${s}" is not a DER GeneralizedTime`);
  const ms = m[7] ? Math.floor(Number(`0.${m[7]}`) * 1000) : 0;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, ms));
  if (Number.isNaN(d.getTime()) || d.getUTCMonth() !== +m[2]! - 1) throw malformed(`${what}: "${s}" is not a valid time`);
  return d;
}

/** Reads an AlgorithmIdentifier: the OID and the parameters node, if any. */
export function readAlgorithm(node: Node | undefined, what: string): { oid: string; params?: Node } {
  const [o, params, ...rest] = kids(expectNode(node, C.UNIVERSAL, T.SEQUENCE, true, what));
  if (rest.length > 0) throw malformed(`${what}: extra fields`);
  return params ? { oid: readOid(o, what), params } : { oid: readOid(o, what) };
}

// Builders: small wrappers so encoders read like the ASN.1 modules they implement.
export const seq = (items: Node[]): Node => asn1.create(C.UNIVERSAL, T.SEQUENCE, true, items);
export const set = (items: Node[]): Node => asn1.create(C.UNIVERSAL, T.SET, true, items);
export const nul = (): Node => asn1.create(C.UNIVERSAL, T.NULL, false, '');
export const bool = (v: boolean): Node => asn1.create(C.UNIVERSAL, T.BOOLEAN, false, v ? '\xff' : '\x00');
export const octets = (b: Buffer): Node => asn1.create(C.UNIVERSAL, T.OCTETSTRING, false, b.toString('binary'));
export function oid(o: string): Node {
  if (!/^[0-2](\.\d+)+$/.test(o)) throw new TypeError(`not an OID: ${o}`);
  const [a, b, ...rest] = o.split('.').map(BigInt);
  const out: number[] = [];
  for (const arc of [a! * 40n + b!, ...rest]) {
    const groups = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...groups);
  }
  return asn1.create(C.UNIVERSAL, T.OID, false, Buffer.from(out).toString('binary'));
}
export const utf8 = (s: string): Node => asn1.create(C.UNIVERSAL, T.UTF8, false, Buffer.from(s, 'utf8').toString('binary'));
export const bits = (b: Buffer, unused = 0): Node =>
  asn1.create(C.UNIVERSAL, T.BITSTRING, false, String.fromCharCode(unused) + b.toString('binary'));
export const ctx = (n: number, constructed: boolean, value: Node[] | string): Node =>
  asn1.create(C.CONTEXT_SPECIFIC, n, constructed, value);
/** A node from already-encoded DER (certificates, names). */
export const raw = (b: Buffer): Node => parseDer(b, 'embedded DER');

/** The content octets of a non-negative INTEGER: minimal, with a leading zero where the top bit is set. */
function integerContent(v: bigint | number): Buffer {
  const n = BigInt(v);
  if (n < 0n) throw new TypeError('negative INTEGERs are not encoded here');
  let hex = n.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  return Buffer.from(hex, 'hex');
}

export function int(v: bigint | number): Node {
  return asn1.create(C.UNIVERSAL, T.INTEGER, false, integerContent(v).toString('binary'));
}

/** `20240102030405.678Z`: UTC, seconds always, a fraction without trailing zeros (RFC 3161 §2.4.2). */
function generalizedTimeText(d: Date): string {
  const iso = d.toISOString(); // 2024-01-02T03:04:05.678Z
  let frac = iso.slice(20, 23).replace(/0+$/, '');
  frac = frac ? `.${frac}` : '';
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}${frac}Z`;
}

export function generalizedTime(d: Date): Node {
  return asn1.create(C.UNIVERSAL, T.GENERALIZEDTIME, false, generalizedTimeText(d));
}

/**
 * DER written straight into buffers, for what changes from one token to the next: the parts that
 * stay the same are encoded once, through forge, and these wrap the rest around them (a token
 * built through forge's trees and binary strings cost about three times its signature).
 */
export const derTag = { INTEGER: 0x02, OCTETS: 0x04, GENERALIZEDTIME: 0x18, SEQUENCE: 0x30, SET: 0x31, CONTEXT_0: 0xa0 } as const;

/** X.690 §8.1.3 definite length: one byte below 128, else 0x80 | count, then the count of bytes. */
function lengthOctets(length: number): number[] {
  if (length < 0x80) return [length];
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest & 0xff);
  return [0x80 | bytes.length, ...bytes];
}

/** The DER of one element: a one-byte `tag`, the length of `content`, the content. */
export function tlv(tag: number, content: readonly Buffer[]): Buffer {
  let length = 0;
  for (const part of content) length += part.length;
  const head = Buffer.from([tag, ...lengthOctets(length)]);
  return Buffer.concat([head, ...content], head.length + length);
}

/** The DER of a non-negative INTEGER. */
export const derInteger = (v: bigint | number): Buffer => tlv(derTag.INTEGER, [integerContent(v)]);

/** The DER of a GeneralizedTime as `generalizedTime` writes it. */
export const derGeneralizedTime = (d: Date): Buffer => tlv(derTag.GENERALIZEDTIME, [Buffer.from(generalizedTimeText(d), 'latin1')]);

export function algorithm(o: string, params?: Node): Node {
  return seq(params ? [oid(o), params] : [oid(o)]);
}
