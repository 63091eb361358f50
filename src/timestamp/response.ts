import { TimestampError, malformed } from './errors.js';
import { C, T, bits, bytesOf, expectNode, int, kids, parseDer, raw, readInt, seq, toDer, utf8 } from './der.js';
import type { Node } from './der.js';

/** PKIFailureInfo bit numbers (RFC 3161 §2.4.2). */
export const failInfoBits = {
  badAlg: 0,
  badRequest: 2,
  badDataFormat: 5,
  timeNotAvailable: 14,
  unacceptedPolicy: 15,
  unacceptedExtension: 16,
  addInfoNotAvailable: 17,
  systemFailure: 25,
} as const;
export type FailInfo = keyof typeof failInfoBits;

export interface PKIStatusInfo {
  /** 0 granted, 1 grantedWithMods, 2 rejection, 3 waiting, 4 revocationWarning, 5 revocationNotification. */
  status: number;
  statusString?: string[];
  failInfo?: FailInfo[];
}

/** Builds a DER `TimeStampResp`; a granted reply carries the token, a refusal carries failInfo. */
export function buildTimeStampResp(o: { status: number; statusString?: string; failInfo?: FailInfo; tokenDer?: Buffer }): Buffer {
  const si: Node[] = [int(o.status)];
  if (o.statusString) si.push(seq([utf8(o.statusString)]));
  if (o.failInfo) {
    // Named BIT STRING in DER: trailing zero bits dropped, unused-bit count set.
    const bit = failInfoBits[o.failInfo];
    const bytes = Buffer.alloc(Math.floor(bit / 8) + 1);
    bytes[bytes.length - 1] = 0x80 >> bit % 8;
    si.push(bits(bytes, 7 - (bit % 8)));
  }
  const f: Node[] = [seq(si)];
  if (o.tokenDer) f.push(raw(o.tokenDer));
  return toDer(seq(f));
}

function readFailInfo(node: Node): FailInfo[] {
  const b = bytesOf(expectNode(node, C.UNIVERSAL, T.BITSTRING, false, 'PKIStatusInfo.failInfo'));
  const out: FailInfo[] = [];
  for (const [name, bit] of Object.entries(failInfoBits) as [FailInfo, number][]) {
    const byte = b[1 + Math.floor(bit / 8)];
    if (byte !== undefined && byte & (0x80 >> bit % 8)) out.push(name);
  }
  return out;
}

/**
 * Splits a DER `TimeStampResp` into its status and token node; a status other than granted (0) or
 * grantedWithMods (1) is `TSA_STATUS_REJECTED` with the TSA's failInfo and text in `details`.
 */
export function parseTimeStampResp(der: Buffer | Node): { status: PKIStatusInfo; token: Node } {
  const root = Buffer.isBuffer(der) ? parseDer(der, 'TimeStampResp') : der;
  const [si, token, ...rest] = kids(expectNode(root, C.UNIVERSAL, T.SEQUENCE, true, 'TimeStampResp'));
  if (rest.length > 0) throw malformed('TimeStampResp has extra fields');
  const sf = [...kids(expectNode(si, C.UNIVERSAL, T.SEQUENCE, true, 'PKIStatusInfo'))];
  const status: PKIStatusInfo = { status: Number(readInt(sf.shift(), 'PKIStatusInfo.status')) };
  if (sf[0]?.type === T.SEQUENCE) status.statusString = kids(sf.shift()!).map((s) => bytesOf(s).toString('utf8'));
  if (sf[0]?.type === T.BITSTRING) status.failInfo = readFailInfo(sf.shift()!);
  if (sf.length > 0) throw malformed('PKIStatusInfo has extra fields');
  if (status.status !== 0 && status.status !== 1) {
    throw new TimestampError('TSA_STATUS_REJECTED', `TSA answered status ${status.status}${status.failInfo?.length ? ` (${status.failInfo.join(', ')})` : ''}`, {
      details: { status: status.status, failInfo: status.failInfo ?? [], statusString: status.statusString ?? [] },
    });
  }
  if (!token) throw malformed('granted TimeStampResp carries no token');
  return { status, token };
}

/** True when the DER looks like a `TimeStampResp` (starts with PKIStatusInfo) rather than a bare token. */
export function isTimeStampResp(root: Node): boolean {
  const first = Array.isArray(root.value) ? root.value[0] : undefined;
  return first?.tagClass === C.UNIVERSAL && first.type === T.SEQUENCE;
}
