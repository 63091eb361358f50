import { malformed } from './errors.js';
import { C, T, algorithm, bytesOf, ctx, derGeneralizedTime, derInteger, derTag, expectNode, int, kids, nul, oid, parseDer, raw, readGeneralizedTime, readInt, readOid, seq, tlv, toDer } from './der.js';
import type { Node } from './der.js';
import { readMessageImprint } from './request.js';
import type { HashName } from './request.js';

/** RFC 3161 `Accuracy`; absent fields are zero. */
export interface Accuracy {
  seconds?: number;
  millis?: number;
  micros?: number;
}

/** A parsed `TSTInfo`, JSON-friendly: big integers as decimal strings, times as ISO 8601 UTC. */
export interface TSTInfo {
  version: 1;
  policy: string;
  hashAlgorithm: HashName;
  /** The message imprint, hex. */
  imprint: string;
  serialNumber: string;
  genTime: string;
  accuracy?: Accuracy;
  ordering: boolean;
  nonce?: string;
  /** The `tsa` field rendered as a distinguished name, when it is a directoryName. */
  tsaName?: string;
}

const nameLabels: Record<string, string> = { '2.5.4.3': 'CN', '2.5.4.10': 'O', '2.5.4.11': 'OU', '2.5.4.6': 'C', '2.5.4.7': 'L', '2.5.4.8': 'ST' };

/** Renders a DER `Name` as "CN=…, O=…" for display; never used for comparison. */
export function renderName(name: Node): string {
  return kids(name)
    .flatMap((rdn) => kids(rdn))
    .map((atv) => {
      const [t, v] = kids(atv);
      const type = readOid(t, 'Name attribute');
      return `${nameLabels[type] ?? type}=${v ? bytesOf(v).toString('utf8') : ''}`;
    })
    .join(', ');
}

/** What a TSA puts in every `TSTInfo` it issues. */
export interface TstInfoConstants {
  policy: string;
  hashOid: string;
  accuracy?: Accuracy;
  tsaNameDer?: Buffer;
}

/** What changes from one `TSTInfo` to the next. */
export interface TstInfoFields {
  imprint: Buffer;
  serial: bigint;
  genTime: Date;
  nonce?: bigint;
}

/**
 * Builds DER `TSTInfo` v1s for one TSA: the fields every token shares are encoded once; `ordering`
 * false is omitted, as DER requires for a DEFAULT.
 */
export function createTstInfoBuilder(c: TstInfoConstants): (f: TstInfoFields) => Buffer {
  const head = [toDer(int(1)), toDer(oid(c.policy))];
  const hashAlgorithm = toDer(algorithm(c.hashOid, nul()));
  const tail: Buffer[] = [];
  if (c.accuracy) {
    const a: Node[] = [];
    if (c.accuracy.seconds) a.push(int(c.accuracy.seconds));
    if (c.accuracy.millis) a.push(ctx(0, false, int(c.accuracy.millis).value as string));
    if (c.accuracy.micros) a.push(ctx(1, false, int(c.accuracy.micros).value as string));
    tail.push(toDer(seq(a)));
  }
  const tsaName = c.tsaNameDer ? [toDer(ctx(0, true, [ctx(4, true, [raw(c.tsaNameDer)])]))] : [];
  const { SEQUENCE, OCTETS } = derTag;
  return (f) => {
    const nonce = f.nonce !== undefined ? [derInteger(f.nonce)] : [];
    const imprint = tlv(SEQUENCE, [hashAlgorithm, tlv(OCTETS, [f.imprint])]);
    return tlv(SEQUENCE, [...head, imprint, derInteger(f.serial), derGeneralizedTime(f.genTime), ...tail, ...nonce, ...tsaName]);
  };
}

/** One `TSTInfo`: `createTstInfoBuilder(o)` used once. */
export function buildTstInfo(o: TstInfoConstants & TstInfoFields): Buffer {
  return createTstInfoBuilder(o)(o);
}

function smallInt(v: bigint, what: string, max: number): number {
  if (v < 0n || v > BigInt(max)) throw malformed(`${what} out of range`);
  return Number(v);
}

function readAccuracy(node: Node): Accuracy {
  const acc: Accuracy = {};
  for (const k of kids(node)) {
    if (k.tagClass === C.UNIVERSAL && k.type === T.INTEGER && acc.seconds === undefined && acc.millis === undefined) {
      acc.seconds = smallInt(readInt(k, 'accuracy.seconds'), 'accuracy.seconds', 2 ** 31);
    } else if (k.tagClass === C.CONTEXT_SPECIFIC && !k.constructed && (k.type === 0 || k.type === 1)) {
      const v = smallInt(readInt({ ...k, tagClass: C.UNIVERSAL, type: T.INTEGER }, 'accuracy'), 'accuracy', 999);
      if (v < 1) throw malformed('accuracy millis/micros must be 1..999');
      if (k.type === 0 && acc.millis === undefined && acc.micros === undefined) acc.millis = v;
      else if (k.type === 1 && acc.micros === undefined) acc.micros = v;
      else throw malformed('TSTInfo.accuracy fields out of order');
    } else throw malformed('TSTInfo.accuracy has an unexpected field');
  }
  return acc;
}

/** Parses DER `TSTInfo` strictly (the eContent of a timestamp token). */
export function parseTstInfo(der: Buffer): TSTInfo {
  const f = [...kids(expectNode(parseDer(der, 'TSTInfo'), C.UNIVERSAL, T.SEQUENCE, true, 'TSTInfo'))];
  if (readInt(f.shift(), 'TSTInfo.version') !== 1n) throw malformed('TSTInfo.version is not 1');
  const policy = readOid(f.shift(), 'TSTInfo.policy');
  const { hashAlgorithm, imprint } = readMessageImprint(f.shift(), 'TSTInfo.messageImprint');
  const serial = readInt(f.shift(), 'TSTInfo.serialNumber');
  if (serial < 0n) throw malformed('TSTInfo.serialNumber is negative');
  const genTime = readGeneralizedTime(f.shift(), 'TSTInfo.genTime');
  const info: TSTInfo = { version: 1, policy, hashAlgorithm, imprint: imprint.toString('hex'), serialNumber: serial.toString(), genTime: genTime.toISOString(), ordering: false };
  const is = (cls: number, type: number) => f[0]?.tagClass === cls && f[0].type === type;
  if (is(C.UNIVERSAL, T.SEQUENCE)) info.accuracy = readAccuracy(f.shift()!);
  if (is(C.UNIVERSAL, T.BOOLEAN)) {
    if (f.shift()!.value !== '\xff') throw malformed('TSTInfo.ordering encodes its default');
    info.ordering = true;
  }
  if (is(C.UNIVERSAL, T.INTEGER)) info.nonce = readInt(f.shift(), 'TSTInfo.nonce').toString();
  if (is(C.CONTEXT_SPECIFIC, 0)) {
    const [gn] = kids(expectNode(f.shift(), C.CONTEXT_SPECIFIC, 0, true, 'TSTInfo.tsa'));
    if (gn?.tagClass === C.CONTEXT_SPECIFIC && gn.type === 4 && gn.constructed) info.tsaName = renderName(kids(gn)[0]!);
  }
  if (is(C.CONTEXT_SPECIFIC, 1)) f.shift();
  if (f.length > 0) throw malformed('TSTInfo has unexpected fields');
  return info;
}
