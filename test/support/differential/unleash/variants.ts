/**
 * Generated variants of every Unleash write flaggate recognizes (src/adapters/unleash/routes.ts):
 * the same logical change, written the many ways HTTP, URLs, media types and JSON allow, plus the
 * ways an attacker would pick to make flaggate and Unleash read it differently.
 */
import fc from 'fast-check';
import { writeRoutes } from '../../../../src/platforms/unleash/routes.js';

/** How the path is written. */
export interface PathTricks {
  /** One bit per literal segment: upper-case it (Express matches literals case-insensitively). */
  caseFlips: number;
  /** Percent-encode unreserved characters of the parameters (`%64` for `d`). */
  encodeParams: boolean;
  /** Percent-encode one character of a literal segment. */
  encodeLiteral: boolean;
  trailingSlash: boolean;
  /** `#` before segment `at` (or at the end, in a parameter), which `fetch` would drop with the rest. */
  fragment?: { at: number; glued: boolean };
  dotSegment?: { at: number; form: '..' | '.' | '%2e%2e' | '%2E' };
  /** One `/` written as `%2F`. */
  encodedSlashAt?: number;
  doubleSlashAt?: number;
}

export type QueryTrick =
  | { kind: 'none' }
  | { kind: 'activate'; value: string }
  | { kind: 'duplicate'; values: [string, string] }
  /** `pad` other parameters first: qs stops at 1,000, URLSearchParams does not. */
  | { kind: 'padded'; pad: number; value: string }
  | { kind: 'empty-pieces'; value: string }
  | { kind: 'encoded-key'; value: string }
  | { kind: 'bracket'; value: string }
  | { kind: 'unknown' }
  /** `?k=false#&k=true` */
  | { kind: 'fragment'; values: [string, string] };

/** Content-Type header lines and how the body bytes are encoded. */
export interface MediaTrick {
  contentTypes: string[];
  encoding: 'utf8' | 'utf7' | 'utf16le' | 'latin1';
  bom: boolean;
}

export type NumberTrick = '1e999' | '-1e999' | '-0' | '1e21' | '12345678901234567890' | '1.0' | '-1e-7' | '0.1e1' | '1E2';

export interface BodyTricks {
  /** The same key twice, a decoy value first or last. */
  duplicateKey?: 'decoy-first' | 'decoy-last';
  /** One key written with \u escapes. */
  escapedKey: boolean;
  /** A string value with escapes: \u escapes, a surrogate pair, a lone surrogate. */
  escapedValue?: 'unicode' | 'pair' | 'lone-surrogate' | 'control';
  /** An extra field holding an odd number. */
  number?: NumberTrick;
  /** An extra field nested this deep. */
  depth?: number;
  /** Whitespace between tokens. */
  spaced: boolean;
  /** A body on a route that reads none. */
  strayBody: boolean;
  /** One scalar written in another JSON type that Unleash's validator coerces (see render.ts). */
  retype?: number;
}

/** The values the change carries. */
export interface Fields {
  description: string;
  type: string;
  impressionData: boolean;
  rollout: number;
  disabled: boolean;
  title: string;
  constraintValues: string[];
  /** A tag update names its added tag twice (Unleash adds it once, and records two events). */
  tagTwice: boolean;
  /** A create's `stale`, when it sends one. */
  staleOnCreate?: boolean;
}

export interface UnleashSpec {
  /** Index into writeRoutes. */
  route: number;
  environment: string;
  path: PathTricks;
  query: QueryTrick;
  media: MediaTrick;
  body: BodyTricks;
  fields: Fields;
}

export const FLAG_TYPES = ['release', 'experiment', 'operational', 'kill-switch', 'permission'] as const;

const mediaTricks: MediaTrick[] = [
  { contentTypes: ['application/json'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json; charset=utf-8'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json;charset=UTF-8'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json; charset="utf-8"'], encoding: 'utf8', bom: false },
  { contentTypes: ['Application/JSON'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json ; charset=utf-8'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json; foo=bar'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json; charset=utf-8'], encoding: 'utf8', bom: true },
  { contentTypes: ['application/json; charset=utf-8; charset=utf-7'], encoding: 'utf7', bom: false },
  { contentTypes: ['application/json;charset=utf-8;charset="utf-7"'], encoding: 'utf7', bom: false },
  { contentTypes: ['application/json; charset=utf-7'], encoding: 'utf7', bom: false },
  { contentTypes: ['application/json; charset=UTF-7; charset=utf-8'], encoding: 'utf7', bom: false },
  { contentTypes: ['application/json; charset=utf-8; charset=utf-8'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/json; charset=utf-16le'], encoding: 'utf16le', bom: false },
  { contentTypes: ['application/json; charset=utf-8; charset=utf-16le'], encoding: 'utf16le', bom: false },
  { contentTypes: ['application/json; charset=latin1'], encoding: 'latin1', bom: false },
  { contentTypes: ['application/json', 'application/json; charset=utf-7'], encoding: 'utf7', bom: false },
  { contentTypes: ['application/json, text/plain'], encoding: 'utf8', bom: false },
  { contentTypes: ['text/plain'], encoding: 'utf8', bom: false },
  { contentTypes: ['application/vnd.unleash+json'], encoding: 'utf8', bom: false },
  { contentTypes: [], encoding: 'utf8', bom: false },
];

const ACTIVATE_VALUES = ['true', 'false', 'TRUE', '1', ''];

const arbQuery: fc.Arbitrary<QueryTrick> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<QueryTrick>({ kind: 'none' }) },
  { weight: 2, arbitrary: fc.constantFrom(...ACTIVATE_VALUES).map((value): QueryTrick => ({ kind: 'activate', value })) },
  { weight: 2, arbitrary: fc.constantFrom<[string, string]>(['false', 'true'], ['true', 'false']).map((values): QueryTrick => ({ kind: 'duplicate', values })) },
  { weight: 1, arbitrary: fc.record({ pad: fc.constantFrom(998, 999, 1000, 1001), value: fc.constant('true') }).map((r): QueryTrick => ({ kind: 'padded', ...r })) },
  { weight: 1, arbitrary: fc.constantFrom('true', 'false').map((value): QueryTrick => ({ kind: 'empty-pieces', value })) },
  { weight: 1, arbitrary: fc.constantFrom('true').map((value): QueryTrick => ({ kind: 'encoded-key', value })) },
  { weight: 1, arbitrary: fc.constantFrom('true').map((value): QueryTrick => ({ kind: 'bracket', value })) },
  { weight: 1, arbitrary: fc.constant<QueryTrick>({ kind: 'unknown' }) },
  { weight: 2, arbitrary: fc.constantFrom<[string, string]>(['false', 'true'], ['true', 'false']).map((values): QueryTrick => ({ kind: 'fragment', values })) },
);

/** Mostly absent: a trick shows up in about one variant in `1 + rare`. */
function sometimes<T>(arb: fc.Arbitrary<T>, rare = 4): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: rare, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb });
}

type Structural = Pick<PathTricks, 'fragment' | 'dotSegment' | 'encodedSlashAt' | 'doubleSlashAt'>;

// At most one structural trick per variant, so each refusal or disagreement has one cause.
const arbStructural: fc.Arbitrary<Structural> = fc.oneof(
  { weight: 10, arbitrary: fc.constant({}) },
  { weight: 3, arbitrary: fc.record({ at: fc.nat(9), glued: fc.boolean() }).map((fragment) => ({ fragment })) },
  { weight: 1, arbitrary: fc.record({ at: fc.nat(9), form: fc.constantFrom<'..' | '.' | '%2e%2e' | '%2E'>('..', '.', '%2e%2e', '%2E') }).map((dotSegment) => ({ dotSegment })) },
  { weight: 1, arbitrary: fc.nat(9).map((encodedSlashAt) => ({ encodedSlashAt })) },
  { weight: 1, arbitrary: fc.nat(9).map((doubleSlashAt) => ({ doubleSlashAt })) },
);

const arbPath: fc.Arbitrary<PathTricks> = fc
  .record({
    caseFlips: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(255) }),
    encodeParams: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    encodeLiteral: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    trailingSlash: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    structural: arbStructural,
  })
  .map(({ structural, ...rest }) => ({ ...rest, ...structural }));

const arbBody: fc.Arbitrary<BodyTricks> = fc
  .record({
    duplicateKey: sometimes(fc.constantFrom<'decoy-first' | 'decoy-last'>('decoy-first', 'decoy-last')),
    escapedKey: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    escapedValue: sometimes(fc.constantFrom<'unicode' | 'pair' | 'lone-surrogate' | 'control'>('unicode', 'pair', 'lone-surrogate', 'control')),
    number: sometimes(fc.constantFrom<NumberTrick>('1e999', '-1e999', '-0', '1e21', '12345678901234567890', '1.0', '-1e-7', '0.1e1', '1E2')),
    depth: sometimes(fc.integer({ min: 2, max: 40 }), 6),
    spaced: fc.boolean(),
    strayBody: fc.oneof({ weight: 4, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
    retype: sometimes(fc.nat(1000), 5),
  })
  .map((b) => {
    const out: BodyTricks = { escapedKey: b.escapedKey, spaced: b.spaced, strayBody: b.strayBody };
    if (b.duplicateKey) out.duplicateKey = b.duplicateKey;
    if (b.escapedValue) out.escapedValue = b.escapedValue;
    if (b.number) out.number = b.number;
    if (b.depth) out.depth = b.depth;
    if (b.retype !== undefined) out.retype = b.retype;
    return out;
  });

const safeText = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789 -_.é€'.split('')), minLength: 1, maxLength: 16 });

const arbFields: fc.Arbitrary<Fields> = fc.record({
  description: safeText,
  type: fc.constantFrom(...FLAG_TYPES),
  impressionData: fc.boolean(),
  rollout: fc.integer({ min: 0, max: 100 }),
  disabled: fc.boolean(),
  title: safeText,
  constraintValues: fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { minLength: 1, maxLength: 3 }),
  tagTwice: fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  staleOnCreate: fc.option(fc.boolean(), { nil: undefined }),
}, { requiredKeys: ['description', 'type', 'impressionData', 'rollout', 'disabled', 'title', 'constraintValues', 'tagTwice'] });

/**
 * The routes whose effects stay on one slot's flag. Segment and context field writes act on
 * objects every slot shares (their reach is checked end to end in test/e2e/unleash-many-flags.test.ts).
 * Imports are left out too: Unleash records an import as a `features-imported` event that names no
 * flag (so no slot could own it), removes the environment's strategies without an event, and refuses
 * imports from the admin token this kit forwards with; they are checked end to end in
 * test/e2e/unleash-import.test.ts.
 */
const slotRoutes = writeRoutes.flatMap((r, i) => (r.flagKeyFrom === 'segment' || r.flagKeyFrom === 'context' || r.flagKeyFrom === 'import' ? [] : [i]));

/** Every recognized write route on one slot's flags, each equally likely. */
export const arbUnleashSpec: fc.Arbitrary<UnleashSpec> = fc.record({
  route: fc.constantFrom(...slotRoutes),
  environment: fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('development', 'production') },
    { weight: 1, arbitrary: fc.constantFrom('Production', 'staging', 'DEVELOPMENT') },
  ),
  path: arbPath,
  query: fc.oneof({ weight: 2, arbitrary: fc.constant<QueryTrick>({ kind: 'none' }) }, { weight: 1, arbitrary: arbQuery }),
  media: fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(...mediaTricks.slice(0, 2)) },
    { weight: 6, arbitrary: fc.constantFrom(...mediaTricks) },
  ),
  body: arbBody,
  fields: arbFields,
});

/** The tricks a variant carries, in a few words. */
export function describeSpec(spec: UnleashSpec): string {
  const r = writeRoutes[spec.route]!;
  const bits: string[] = [`${r.method} ${r.action}${r.body === 'patch' ? ' (patch)' : ''}`, `env=${spec.environment}`];
  const p = spec.path;
  if (p.caseFlips) bits.push('case');
  if (p.encodeParams) bits.push('pct-params');
  if (p.encodeLiteral) bits.push('pct-literal');
  if (p.trailingSlash) bits.push('trailing-slash');
  if (p.fragment) bits.push(`fragment@${p.fragment.at}${p.fragment.glued ? '' : '/'}`);
  if (p.dotSegment) bits.push(`dot(${p.dotSegment.form})@${p.dotSegment.at}`);
  if (p.encodedSlashAt !== undefined) bits.push(`%2F@${p.encodedSlashAt}`);
  if (p.doubleSlashAt !== undefined) bits.push(`//@${p.doubleSlashAt}`);
  if (spec.query.kind !== 'none') bits.push(`query:${JSON.stringify(spec.query)}`);
  bits.push(`ct=${JSON.stringify(spec.media.contentTypes)}/${spec.media.encoding}${spec.media.bom ? '+bom' : ''}`);
  const b = spec.body;
  if (b.duplicateKey) bits.push(`dup-key(${b.duplicateKey})`);
  if (b.escapedKey) bits.push('escaped-key');
  if (b.escapedValue) bits.push(`escaped-value(${b.escapedValue})`);
  if (b.number) bits.push(`number(${b.number})`);
  if (b.depth) bits.push(`depth(${b.depth})`);
  if (b.strayBody && r.body === 'none') bits.push('stray-body');
  if (b.retype !== undefined && r.body !== 'none') bits.push(`retype(${b.retype})`);
  return bits.join(' ');
}
