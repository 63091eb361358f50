import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { JSONWebKeySet } from 'jose';
import { isIsoUtc } from '../clock.js';
import type { Checkpoint } from './checkpoint.js';
import { canonicalJson } from './canonical.js';
import type { AuditEntry, StoredRow } from './entry.js';
import { evidenceFiles, EXPORT_FORMAT, exportFiles, filtersApply, MANIFEST_TYP, matchesExport, type ExportManifest, type ExportTimestamps } from './export-format.js';
import { packedHex, type ExportedEntries } from './export-entries.js';
import { namesAKeyTwice } from './duplicate-keys.js';
import { countLines, jsonLines, type OnDigest } from './file-lines.js';
import { rowToEntry } from './row-to-entry.js';
import { verifyJson } from './signed-json.js';
import { coverageFailureKind, DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS } from './verdict.js';
import type { ExportFailure, ExportVerifyReport, VerifyExportOptions } from './verify-export.js';
import { verifyLedger } from './verify-ledger.js';

/**
 * The files of an export package, not yet trusted. The small ones are parsed; chain.jsonl and
 * entries.jsonl are read a line at a time by the steps that need them, never held whole (a package
 * of a million entries holds more than V8's longest string).
 */
export interface ExportPackage {
  manifest: ExportManifest;
  /** chain.jsonl's lines, parsed, from the start. */
  chainLines: () => Generator<unknown>;
  /** entries.jsonl, read by the entries pass (`export-entries.ts`). */
  entriesPath: string;
  /** How many lines entries.jsonl holds. */
  entryCount: number;
  checkpoints: Checkpoint[];
  packageKeys: JSONWebKeySet;
  timestamps: ExportTimestamps;
  /** Digests of the line files, by file name, told by the readers that read them whole; checkDigests reads the rest. */
  digests: Map<string, string>;
}

/**
 * What the later steps need of each chain row, by `seq - firstSeq`, kept from one pass over
 * chain.jsonl: its hash, the time its body records, and whether the package's period and filters
 * select it (`UNREADABLE` when its body is not an entry).
 */
export interface ChainIndex {
  firstSeq: number;
  /** The first row's `prev_hash`: what its hash chains from. */
  firstPrev: string;
  hashes: string[];
  times: Array<string | undefined>;
  selected: number[];
}

const SELECTED = 1;
const UNREADABLE = 2;

/** A package being checked, with what the steps share: `rows` is filled in by checkChain, `csvListsEntries` by checkEntries. */
export interface PackageContext extends ExportPackage {
  dir: string;
  keys: JSONWebKeySet;
  rows: ChainIndex;
  /** Whether entries.csv holds exactly the records of the exported entries, found by checkEntries. */
  csvListsEntries: boolean;
  skewSeconds: number;
}

const failure = (kind: ExportFailure['kind'], message: string, extra: { seq?: number | undefined; file?: string } = {}): ExportFailure => ({ kind, message, ...extra });

/** Reads the package's small files and finds its line files; a missing or unparsable one is `malformed`. */
export function readPackage(dir: string): ExportPackage | ExportFailure {
  try {
    const manifest = readJson(dir, 'manifest.json') as ExportManifest;
    if (manifest.format !== EXPORT_FORMAT) return failure('malformed', `not a ${EXPORT_FORMAT} package`, { file: 'manifest.json' });
    // It bounds every token's time: one that does not read as a time would bound nothing.
    if (!isIsoUtc(manifest.createdAt)) return failure('malformed', 'the manifest\'s createdAt is not a UTC time to the millisecond', { file: 'manifest.json' });
    const [chainPath, entriesPath] = [present(dir, 'chain.jsonl'), present(dir, 'entries.jsonl'), present(dir, 'entries.csv')];
    const entryCount = countLines(entriesPath);
    const digests = new Map<string, string>();
    return {
      manifest,
      chainLines: () => chainRows(chainPath, (hex) => digests.set('chain.jsonl', hex)),
      digests,
      entriesPath,
      entryCount,
      checkpoints: readJson(dir, 'checkpoints.json') as Checkpoint[],
      packageKeys: readJson(dir, 'keys.jwks.json') as JSONWebKeySet,
      timestamps: readJson(dir, 'timestamps.json') as ExportTimestamps,
    };
  } catch (err) {
    return failure('malformed', (err as Error).message);
  }
}

/** manifest.jws verifies with `keys` and signs exactly manifest.json. */
export async function checkManifestSignature(dir: string, manifest: ExportManifest, keys: JSONWebKeySet): Promise<ExportFailure | undefined> {
  const signed = await verifyJson(readFileSync(join(dir, 'manifest.jws'), 'utf8').trim(), MANIFEST_TYP, keys);
  if (!signed.ok) return failure(signed.problem, `manifest.jws: ${signed.message}`, { file: 'manifest.jws' });
  if (canonicalJson(signed.value) !== canonicalJson(manifest)) return failure('modified', 'manifest.json differs from the signed manifest', { file: 'manifest.json' });
  return undefined;
}

/** An empty index for the package's chain, filled in by `checkChain`'s one reading of chain.jsonl. */
export function newChainIndex(manifest: ExportManifest): ChainIndex {
  return { firstSeq: manifest.anchorSeq + 1, firstPrev: '', hashes: [], times: [], selected: [] };
}

/**
 * chain.jsonl's rows, checked to hold exactly the sealed range, each seq once, in order (nothing
 * outside it can later be taken as proven), and noted in `index` on the way (trusted only once the
 * chain is proven). At the first row out of place it records why in `found` and ends.
 */
function* rangedRows({ chainLines, manifest }: ExportPackage, index: ChainIndex, found: { failure?: ExportFailure }): Generator<StoredRow> {
  let expectedSeq = index.firstSeq;
  for (const row of chainLines()) {
    if (!isStoredRow(row)) return void (found.failure = failure('malformed', 'chain.jsonl holds a line that is not a stored row', { file: 'chain.jsonl' }));
    if (row.seq < expectedSeq) {
      return void (found.failure = failure(row.seq <= manifest.anchorSeq ? 'inserted' : 'reordered', `chain.jsonl: seq ${row.seq} is out of place`, { seq: row.seq, file: 'chain.jsonl' }));
    }
    if (row.seq > manifest.sealSeq) return void (found.failure = failure('inserted', `chain.jsonl: seq ${row.seq} lies beyond the seal at ${manifest.sealSeq}`, { seq: row.seq, file: 'chain.jsonl' }));
    expectedSeq = row.seq + 1;
    noteRow(index, row, manifest);
    yield row;
  }
}

function noteRow(index: ChainIndex, row: StoredRow, manifest: ExportManifest): void {
  const at = row.seq - index.firstSeq;
  if (at === 0) index.firstPrev = row.prev_hash;
  index.hashes[at] = row.hash;
  // With no filter, a row's time is all the package's scope needs of it: read from the body's text.
  const time = filtersApply(manifest.filters) ? undefined : timeOfBody(row.body);
  if (time !== undefined) {
    index.times[at] = time;
    index.selected[at] = matchesExport({ timestamp_utc: time } as AuditEntry, manifest.period, manifest.filters) ? SELECTED : 0;
    return;
  }
  try {
    const entry = rowToEntry(row);
    // An entry that records no string time reads as '', which the coverage check refuses.
    index.times[at] = typeof entry.timestamp_utc === 'string' ? entry.timestamp_utc : '';
    index.selected[at] = matchesExport(entry, manifest.period, manifest.filters) ? SELECTED : 0;
  } catch {
    index.selected[at] = UNREADABLE;
  }
}

const UNRECORDED_LAST = ',"unrecorded":null}';
const TIME_MEMBER = ',"timestamp_utc":"';

/**
 * An entry body's `timestamp_utc`, read from its text without parsing it, when the text ends as a
 * canonical entry does (its last two members `timestamp_utc`, a plain string, then `unrecorded`,
 * null); else undefined, and the body is parsed. Taken from a body only once the chain check has
 * proven it canonical JSON: there the closing brace at the end is the top level's, so the member
 * before it is the top-level `unrecorded`, and the one before that, whose value holds no quote or
 * backslash, the top-level `timestamp_utc`.
 */
export function timeOfBody(body: string): string | undefined {
  if (!body.endsWith(UNRECORDED_LAST)) return undefined;
  const close = body.length - UNRECORDED_LAST.length - 1;
  if (body.charCodeAt(close) !== 0x22) return undefined;
  const member = body.lastIndexOf(TIME_MEMBER, close);
  if (member < 0 || member + TIME_MEMBER.length > close) return undefined;
  const time = body.slice(member + TIME_MEMBER.length, close);
  return time.includes('"') || time.includes('\\') ? undefined : time;
}

/**
 * The chain, anchored by the checkpoint before the period and sealed by the one after, read once:
 * rows out of place are reported first (as if checked before the chain), then what the chain shows.
 * Fills in `ctx.rows` on the way.
 */
export async function checkChain(ctx: PackageContext, report: ExportVerifyReport): Promise<ExportFailure | undefined> {
  const { manifest, checkpoints } = ctx;
  const found: { failure?: ExportFailure } = {};
  let reading: Generator<StoredRow> = rangedRows(ctx, ctx.rows, found);
  // The rows the verifier did not reach (past a break, past the seal), still checked for their place.
  const rest = () => {
    for (const _row of reading);
    return found.failure;
  };
  const anchor = checkpoints.find((c) => c.seq === manifest.anchorSeq);
  const anchorHead = manifest.anchorSeq === 0 ? undefined : anchor ? { seq: anchor.seq, hash: anchor.hash } : null;
  if (anchorHead === null) return rest() ?? failure('truncated', `no checkpoint anchors the package at seq ${manifest.anchorSeq}`, { seq: manifest.anchorSeq });
  if (!checkpoints.some((c) => c.seq === manifest.sealSeq)) return rest() ?? failure('truncated', `no checkpoint seals the package at seq ${manifest.sealSeq}`, { seq: manifest.sealSeq });
  const chainReport = await verifyLedger({
    read: rowsFrom(() => (reading = rangedRows(ctx, ctx.rows, found))),
    checkpoints,
    keys: ctx.keys,
    chainId: manifest.chainId,
    from: manifest.anchorSeq + 1,
    to: manifest.sealSeq,
    ...(anchorHead ? { anchor: anchorHead } : {}),
  });
  report.chain = chainReport;
  const outOfPlace = rest();
  if (outOfPlace) return outOfPlace;
  if (!chainReport.ok) return failure(chainReport.failure!.kind, chainReport.failure!.message, { seq: chainReport.failure!.seq, file: 'chain.jsonl' });
  if (chainReport.head.seq !== manifest.sealSeq) return failure('truncated', `chain.jsonl ends at seq ${chainReport.head.seq}, before the seal at ${manifest.sealSeq}`, { seq: chainReport.head.seq + 1 });
  return undefined;
}

/**
 * Pages of chain rows after a seq, read forward from `open` (rows in strictly increasing seq order,
 * as rangedRows checks): the verifier reads the chain in order, each page after the last; a page
 * asked for behind that starts the reading over.
 */
export function rowsFrom(open: () => Iterator<StoredRow>): (after: number, limit: number) => StoredRow[] {
  let rows = open();
  let next: StoredRow | undefined;
  let last = -Infinity;
  return (after, limit) => {
    if (after < last) [rows, next, last] = [open(), undefined, -Infinity];
    const page: StoredRow[] = [];
    while (page.length < limit) {
      if (next === undefined) {
        const step = rows.next();
        if (step.done) break;
        next = step.value;
      }
      if (next.seq > after) page.push(next);
      next = undefined;
    }
    last = page.at(-1)?.seq ?? last;
    return page;
  };
}

/**
 * Every exported entry is exactly its row in the verified chain; no matching row is left out. The
 * entries pass (`export-entries.ts`) proved each entry hashes, from the `prev_hash` it states, to
 * the hash it states; it is its row when those are the row's proven hash and the hash before it.
 * Failures come in entries.jsonl's order, each entry's chain checks before its own later ones.
 */
export function checkEntries(ctx: PackageContext, entries: ExportedEntries): ExportFailure | undefined {
  const { rows } = ctx;
  const inChain = (seq: number) => {
    const at = seq - rows.firstSeq;
    return Number.isInteger(at) && at >= 0 && at < rows.hashes.length ? at : undefined;
  };
  const notInChain = (seq: number) => failure('inserted', `entries.jsonl holds seq ${seq}, which the chain does not`, { seq, file: 'entries.jsonl' });
  const isRow = (i: number, at: number) =>
    packedHex(entries.hashes, i) === rows.hashes[at] && packedHex(entries.prevs, i) === (at === 0 ? rows.firstPrev : rows.hashes[at - 1]);
  const exported = new Uint8Array(rows.hashes.length);
  for (let i = 0; i < entries.count; i += 1) {
    const seq = entries.seqs[i]!;
    const at = inChain(seq);
    if (at === undefined) return notInChain(seq);
    if (!isRow(i, at)) return failure('modified', `the exported entry at seq ${seq} differs from the chain`, { seq, file: 'entries.jsonl' });
    exported[at] = 1;
  }
  const stop = entries.stop;
  if (stop) {
    if (stop.throws !== undefined) throw new Error(stop.throws);
    if (!stop.beforeChain) {
      const at = inChain(stop.seq!);
      if (at === undefined) return notInChain(stop.seq!);
      if (stop.packed && !isRow(stop.at, at)) return failure('modified', `the exported entry at seq ${stop.seq} differs from the chain`, { seq: stop.seq, file: 'entries.jsonl' });
    }
    return stop.failure;
  }
  ctx.csvListsEntries = entries.csvListsEntries;
  for (let at = 0; at < rows.hashes.length; at += 1) {
    const seq = rows.firstSeq + at;
    if (rows.selected[at] === UNREADABLE) return failure('malformed', `the chain row at seq ${seq} does not hold an entry`, { seq, file: 'chain.jsonl' });
    if (rows.selected[at] === SELECTED && !exported[at]) {
      return failure('deleted', `the entry at seq ${seq} matches the period and filters but is not exported`, { seq, file: 'entries.jsonl' });
    }
  }
  return undefined;
}

/** The verdict `checkEntries` reached on entries.csv. */
export function checkCsv(ctx: PackageContext): ExportFailure | undefined {
  return ctx.csvListsEntries ? undefined : failure('modified', 'entries.csv does not list the exported entries', { file: 'entries.csv' });
}

function entryTimeAt(ctx: PackageContext, seq: number): string | undefined {
  return ctx.rows.times[seq - ctx.rows.firstSeq];
}

/**
 * RFC 3161: every chain row is covered by a token that verifies against the TSA anchors and was
 * made within the bound after the entry's recorded time, and before the package was created: a
 * history rewritten later and stamped again (even by a trusted TSA) fails as `restamped`.
 */
export function checkTimestamps(ctx: PackageContext, options: VerifyExportOptions, report: ExportVerifyReport): ExportFailure | undefined {
  const { manifest, timestamps } = ctx;
  const ts = options.verifyTokens({
    tokens: timestamps.tokens.map((t) => ({ coversSeq: t.coversSeq, coversHash: t.coversHash, token: Buffer.from(t.token, 'base64') })),
    rowHashAt: (seq) => ctx.rows.hashes[seq - ctx.rows.firstSeq],
    headSeq: manifest.sealSeq,
    trust: { trustAnchorsPem: options.tsaTrustPem ?? timestamps.trustAnchorsPem, untrustedPem: timestamps.untrustedPem },
    times: {
      entryTime: (seq) => entryTimeAt(ctx, seq),
      maxDelaySeconds: options.maxTimestampDelaySeconds ?? DEFAULT_MAX_TIMESTAMP_DELAY_SECONDS,
      skewSeconds: ctx.skewSeconds,
      fromSeq: manifest.anchorSeq + 1,
      notAfter: manifest.createdAt,
    },
  });
  report.timestamps = ts;
  if (ts.ok) return undefined;
  const first = ts.failures[0];
  return first
    ? failure(coverageFailureKind(first.code, first.coversSeq, manifest.sealSeq), `${first.code}: ${first.message}`, { seq: first.seq ?? first.coversSeq, file: 'timestamps.json' })
    : failure('uncovered', `entries from seq ${ts.uncoveredFrom} are not covered by a timestamp token`, { ...(ts.uncoveredFrom ? { seq: ts.uncoveredFrom } : {}), file: 'timestamps.json' });
}

/** The seal is signed after the entry it seals and no later than the package it seals. */
export function checkSeal(ctx: PackageContext): ExportFailure | undefined {
  const { manifest, skewSeconds } = ctx;
  const seal = ctx.checkpoints.find((c) => c.seq === manifest.sealSeq)!;
  const sealedEntryAt = entryTimeAt(ctx, manifest.sealSeq);
  if (!isIsoUtc(seal.time)) return failure('malformed', `the seal checkpoint's time ${JSON.stringify(String(seal.time).slice(0, 64))} is not a UTC time to the millisecond`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  if (sealedEntryAt !== undefined && Date.parse(seal.time) < Date.parse(sealedEntryAt) - skewSeconds * 1000) {
    return failure('predated', `the seal checkpoint (${seal.time}) is older than the entry it seals (${sealedEntryAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }
  if (Date.parse(seal.time) > Date.parse(manifest.createdAt) + skewSeconds * 1000) {
    return failure('restamped', `the seal checkpoint (${seal.time}) is newer than the package (${manifest.createdAt})`, { seq: manifest.sealSeq, file: 'checkpoints.json' });
  }
  return undefined;
}

/** A policy bundle the package carries: named by its own digest. */
const bundleFile = /^policy-bundles\/([0-9a-f]{64})\.tar\.gz$/;

/** Reads the digests of package files ahead of `checkDigests`, which still decides at its turn: for a thread that would otherwise wait. */
export function readFileDigests({ dir, digests }: PackageContext, names: string[]): void {
  for (const name of names) {
    if (existsSync(join(dir, name))) digests.set(name, fileSha256(join(dir, name)));
  }
}

/** Last, every file matches the manifest's digest; a policy bundle's also matches its name, and the manifest lists nothing else. */
export function checkDigests({ dir, manifest, digests }: PackageContext): ExportFailure | undefined {
  const extra = Object.keys(manifest.files).filter((name) => !(exportFiles as readonly string[]).includes(name));
  for (const name of [...exportFiles, ...extra]) {
    const named = bundleFile.exec(name);
    const known = (exportFiles as readonly string[]).includes(name) || (evidenceFiles as readonly string[]).includes(name);
    if (!known && (!named || named[1] !== manifest.files[name])) {
      return failure('modified', `the manifest lists ${name}, which is not a package file`, { file: name });
    }
    if (!existsSync(join(dir, name))) return failure('modified', `${name} is missing`, { file: name });
    if (manifest.files[name] !== (digests.get(name) ?? fileSha256(join(dir, name)))) return failure('modified', `${name} does not match the manifest digest`, { file: name });
  }
  return undefined;
}

/**
 * chain.jsonl's lines, parsed. A line not in the form flaggate writes a row in (`rowLine`) is
 * taken only when no reader can take it for another: one that names a key twice (two bodies, the
 * second the one JSON.parse keeps) is refused, as a line that is not JSON is.
 */
export function chainRows(path: string, onDigest?: OnDigest): Generator<unknown> {
  const refuse = (value: unknown, line: string) => (!(isStoredRow(value) && isRowLine(value, line)) && namesAKeyTwice(line) ? 'names a key twice' : undefined);
  return jsonLines(path, 'chain.jsonl', refuse, onDigest);
}

/**
 * Whether `line` is laid out as flaggate writes `row` (`rowLine`): the body's string literal first,
 * then exactly the other four members as written. Then the line holds five members, each once:
 * the body's literal has no unescaped quote before its own closing one. Cheaper than writing the
 * line again (escaping a body costs more than parsing it).
 */
function isRowLine(row: StoredRow, line: string): boolean {
  const tail = `","chain_id":${JSON.stringify(row.chain_id)},"hash":${JSON.stringify(row.hash)},"prev_hash":${JSON.stringify(row.prev_hash)},"seq":${row.seq}}`;
  if (!line.startsWith('{"body":"') || !line.endsWith(tail)) return false;
  const close = line.length - tail.length;
  if (close < 9) return false;
  STRING_REST.lastIndex = 9;
  return STRING_REST.test(line) && STRING_REST.lastIndex === close + 1;
}

/**
 * The rest of a string literal after its opening quote, through the first quote no backslash
 * escapes (each backslash takes the character after it): one pass of the regular expression
 * engine, about half the time of finding each quote and counting the backslashes before it.
 */
const STRING_REST = /[^"\\]*(?:\\[^][^"\\]*)*"/y;

/** A small package file parsed; one that names a key twice (read one way here, another elsewhere) is refused. */
function readJson(dir: string, name: string): unknown {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${name} is missing`);
  const text = readFileSync(path, 'utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${name} is not JSON`);
  }
  if (namesAKeyTwice(text)) throw new Error(`${name} names a key twice`);
  return value;
}

/**
 * A package's line file: a regular file, read more than once (counted, checked, digested), so a
 * pipe or a device that could hand each reading other bytes is refused.
 */
function present(dir: string, name: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${name} is missing`);
  if (!statSync(path).isFile()) throw new Error(`${name} is not a regular file`);
  return path;
}

/** A file's SHA-256, read a chunk at a time. */
function fileSha256(path: string): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 20);
  const fd = openSync(path, 'r');
  try {
    for (let read = readSync(fd, chunk); read > 0; read = readSync(fd, chunk)) hash.update(chunk.subarray(0, read));
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

function isStoredRow(row: unknown): row is StoredRow {
  const r = row as Partial<StoredRow> | null;
  return (
    typeof r === 'object' && r !== null && Number.isSafeInteger(r.seq) &&
    typeof r.chain_id === 'string' && typeof r.prev_hash === 'string' && typeof r.hash === 'string' && typeof r.body === 'string'
  );
}
