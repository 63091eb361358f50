import { canonicalJson } from './canonical.js';
import { namesAKeyTwice } from './duplicate-keys.js';
import type { AuditEntry, AuditEntryBody } from './entry.js';
import { csvHeader, csvRecords, matchesExport, type ExportManifest } from './export-format.js';
import { fileLinesWithBytes, fileMatcher, type OnDigest } from './file-lines.js';
import { chainHash, chainHashOfUtf8 } from './hash-entry.js';
import type { ExportFailure } from './verify-export.js';

/**
 * What entries.jsonl and entries.csv show on their own, before they are held against the chain:
 * every check of an exported entry that needs no chain row. An entry that hashes, from the
 * `prev_hash` it states, to the hash it states, is its chain row exactly when those two hashes are
 * the row's and the row's previous (SHA-256 binds the whole text), so what is left for the chain
 * is a comparison of hashes: they are kept packed, 32 bytes each, in file order.
 */
export interface ExportedEntries {
  /** Entries read and packed, in file order, before `stop`. */
  count: number;
  seqs: Float64Array;
  /** Each entry's stated hash, 32 bytes per entry. */
  hashes: Uint8Array;
  /** Each entry's stated `prev_hash`, 32 bytes per entry. */
  prevs: Uint8Array;
  /**
   * The first entry that fails a check of its own, at index `at`. `beforeChain`: found before the
   * chain is asked about it (a line that is not an entry); else the chain checks of that entry come
   * first, with its `seq` and, when `packed`, its hashes in slot `at`. `throws`: the file cannot be
   * read on (a line that is not JSON), reported as the reading would throw.
   */
  stop?: { at: number; beforeChain: boolean; seq?: number; packed?: boolean; failure?: ExportFailure; throws?: string };
  /** Whether entries.csv holds exactly the records of the entries read (meaningful when there is no stop). */
  csvListsEntries: boolean;
  /** The SHA-256 of entries.jsonl and of entries.csv, by file name, where the pass read the file whole. */
  digests: Record<string, string>;
}

/** Where the entries pass reads, and the scope the entries must lie in: plain data, for a worker. */
export interface EntriesJob {
  entriesPath: string;
  csvPath: string;
  /** Lines in entries.jsonl (as `countLines` gives): the packed arrays' length. */
  count: number;
  period: ExportManifest['period'];
  filters: ExportManifest['filters'];
  /** Take the two files' digests on the way (`digests`): set where nothing else would read them meanwhile. */
  digestFiles: boolean;
}

const HEX_HASH = /^[0-9a-f]{64}$/;

/** Reads entries.jsonl once, checking each entry on its own, and entries.csv against them. */
export function readExportedEntries(job: EntriesJob): ExportedEntries {
  const out: ExportedEntries = {
    count: 0,
    seqs: new Float64Array(job.count),
    hashes: new Uint8Array(job.count * 32),
    prevs: new Uint8Array(job.count * 32),
    csvListsEntries: false,
    digests: {},
  };
  const packed = { hashes: Buffer.from(out.hashes.buffer), prevs: Buffer.from(out.prevs.buffer) };
  const stop = (s: NonNullable<ExportedEntries['stop']>) => ((out.stop = s), out);
  const seen = new Set<number>();
  const digested = (name: string): OnDigest | undefined => (job.digestFiles ? (hex) => (out.digests[name] = hex) : undefined);
  const csv = csvListing(job.csvPath, digested('entries.csv'));
  try {
    let at = 0;
    for (const { text: line, bytes } of fileLinesWithBytes(job.entriesPath, undefined, digested('entries.jsonl'))) {
      let e: AuditEntry;
      try {
        e = JSON.parse(line) as AuditEntry;
      } catch {
        return stop({ at, beforeChain: true, throws: `entries.jsonl line ${at + 1} is not JSON` });
      }
      if (typeof e !== 'object' || e === null || typeof e.seq !== 'number' || at >= job.count) {
        return stop({ at, beforeChain: true, failure: { kind: 'malformed', message: 'entries.jsonl holds a line that is not an entry', file: 'entries.jsonl' } });
      }
      const canonical = selfConsistent(e, line, bytes);
      if (!canonical) {
        return stop({ at, beforeChain: false, seq: e.seq, failure: { kind: 'modified', message: `the exported entry at seq ${e.seq} differs from the chain`, seq: e.seq, file: 'entries.jsonl' } });
      }
      out.seqs[at] = e.seq;
      packed.hashes.write(e.hash, at * 32, 32, 'hex');
      packed.prevs.write(e.prev_hash, at * 32, 32, 'hex');
      if (seen.has(e.seq)) return stop({ at, beforeChain: false, seq: e.seq, packed: true, failure: { kind: 'inserted', message: `seq ${e.seq} is exported twice`, seq: e.seq, file: 'entries.jsonl' } });
      if (!matchesExport(e, job.period, job.filters)) {
        return stop({ at, beforeChain: false, seq: e.seq, packed: true, failure: { kind: 'inserted', message: `seq ${e.seq} is outside the package's period or filters`, seq: e.seq, file: 'entries.jsonl' } });
      }
      seen.add(e.seq);
      out.count = at += 1;
      csv.add(canonical);
    }
    out.csvListsEntries = csv.complete();
    return out;
  } finally {
    csv.close();
  }
}

/**
 * The entry (parsed from `line`, stored as `bytes`) with its members in canonical order when it
 * hashes, from the `prev_hash` it states, to the hash it states (both plain lowercase hex), else
 * undefined. Its body's text is the line without the `hash` member: the hash occurs in that text
 * only as the member itself (a body holding its own hash would be a fixed point of SHA-256), and
 * the line is canonical as flaggate writes it; otherwise the canonical text of the body decides.
 */
function selfConsistent(e: AuditEntry, line: string, bytes: Buffer): AuditEntry | undefined {
  const { hash, prev_hash: prev } = e;
  if (typeof hash !== 'string' || typeof prev !== 'string' || !HEX_HASH.test(hash) || !HEX_HASH.test(prev)) return undefined;
  const member = `"hash":"${hash}"`;
  // The member is ASCII, and no byte of a multi-byte UTF-8 character is: in well-formed bytes it
  // is found where it is in the text, and the bytes around it are the text around it, as stored.
  const parts = withoutMemberBytes(bytes, member);
  const fromBytes = parts && chainHashOfUtf8(prev, ...parts);
  if (fromBytes === hash) return e;
  const text = fromBytes === undefined ? withoutMember(line, member) : undefined;
  if (text !== undefined && chainHash(prev, text) === hash) return e;
  // A line written otherwise is the entry only when no reader can take it for another: a key
  // twice in one object reads as the first value in some parsers and the last in JSON.parse.
  if (namesAKeyTwice(line)) return undefined;
  const { hash: _hash, ...body } = e;
  const canonical = canonicalJson(body);
  return chainHash(prev, canonical) === hash ? { ...(JSON.parse(canonical) as AuditEntryBody), hash } : undefined;
}

/** An object's JSON text without the member `member` (its whole text), else undefined. */
function withoutMember(text: string, member: string): string | undefined {
  const at = text.indexOf(member);
  if (at < 1) return undefined;
  const end = at + member.length;
  if (text[at - 1] === ',') return text.slice(0, at - 1) + text.slice(end);
  if (text[end] === ',') return text.slice(0, at) + text.slice(end + 1);
  return text[end] === '}' ? text.slice(0, at) + text.slice(end) : undefined;
}

/** `withoutMember` over the line's bytes: the bytes before and after the member, else undefined. */
function withoutMemberBytes(bytes: Buffer, member: string): [Buffer, Buffer] | undefined {
  const at = bytes.indexOf(member, 0, 'latin1');
  if (at < 1) return undefined;
  const end = at + member.length;
  if (bytes[at - 1] === COMMA) return [bytes.subarray(0, at - 1), bytes.subarray(end)];
  if (bytes[end] === COMMA) return [bytes.subarray(0, at), bytes.subarray(end + 1)];
  return bytes[end] === CLOSE ? [bytes.subarray(0, at), bytes.subarray(end)] : undefined;
}

const COMMA = 0x2c;
const CLOSE = 0x7d;

/** Slot `at`'s hash as hex, as the chain's rows hold it. */
export function packedHex(packed: Uint8Array, at: number): string {
  return Buffer.from(packed.buffer, packed.byteOffset + at * 32, 32).toString('hex');
}

/**
 * entries.csv compared, record by record, with what the export writes for the entries given to
 * `add` (the same columns and the same csv-stringify options): the file must hold exactly those
 * records after the header, in order, and nothing else. Byte for byte, so no cell (an actor, a
 * reason, a state) can say something its entry does not; the manifest's digest already binds the
 * bytes, so this refuses nothing flaggate writes.
 */
function csvListing(path: string, onDigest: OnDigest | undefined): { add(entry: AuditEntry): void; complete(): boolean; close(): void } {
  const file = fileMatcher(path, undefined, onDigest);
  let listing = file.next(Buffer.from(csvHeader()));
  let pending: AuditEntry[] = [];
  const compare = () => {
    try {
      if (listing && pending.length > 0) listing = file.next(Buffer.from(csvRecords(pending)));
    } catch {
      // An entry that hashes to its stated hash but has no record (it lacks the members a record
      // lists) is listed by no CSV: a verdict, never a crash of the verifier.
      listing = false;
    }
    pending = [];
  };
  return {
    add(entry) {
      pending.push(entry);
      if (pending.length === CSV_BATCH) compare();
    },
    complete: () => (compare(), listing && file.atEnd()),
    close: () => file.close(),
  };
}

/**
 * Records rendered per call when entries.csv is compared: the text is the same at any size.
 * Measured over 100,000 entries: the pass took 1.83 s at 32, 1.97 one at a time; larger batches
 * outlive the young generation and cost more in collection than they save.
 */
const CSV_BATCH = 32;
